"""All logic of the PyTorch Playground. Importable and testable without Streamlit."""
