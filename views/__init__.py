"""The pages' views: widgets and layout only. Logic lives in playground/."""
