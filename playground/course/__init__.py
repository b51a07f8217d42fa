"""Course mode: the course's steps in its order, each with exercises the app checks against torch (issue 24).

``exercises`` holds the exercise types and the checking of typed answers (parsed by safe grammars, never run);
``catalog`` the steps and their exercises; ``run_check`` the one exercise checked from a kept run;
``summary`` the Markdown a learner downloads. No streamlit here: pages/course.py draws it.
"""
