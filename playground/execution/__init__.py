"""Where training jobs run: one executor interface (``executor.Executor``, ``get_executor()``), the local
worker pool (``pool``, the default) and Ray (``ray_executor``, where ``PLAYGROUND_RAY_ADDRESS`` names a
cluster). ``jobs`` holds what they share (the job, the view a page renders, the session's handle, the
budget); ``worker`` is the code that trains, in a worker process or a Ray actor alike.

Why processes: a Python-heavy training loop in a thread competes for the GIL with the web server and
with other sessions. The worker never calls Streamlit; it streams progress back as messages that a drain
thread turns into a ``TrainingJob`` under a lock. Play, pause, step, stop are control messages to it. A
worker that dies is seen: its job fails with a sentence and the session can train again. A session that
goes away frees its job (the handle's finalizer stops it, and so does the idle timeout).
"""
