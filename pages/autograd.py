import streamlit as st

st.title("autograd")
st.info("This page is being built.")
