import streamlit as st

st.title("model_builder")
st.info("This page is being built.")
