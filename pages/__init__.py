"""Streamlit pages: widgets and layout only. Logic lives in playground/."""
