"""Every limit of the playground, in one place.

Pages may use these numbers for widget ranges, but the logic in ``playground/`` enforces them itself,
so a value that reaches it by another road (a URL, a test, a crafted request) is still checked.
"""

from __future__ import annotations

# Tensor Lab
MAX_TENSOR_ELEMENTS = 10_000
MAX_TENSOR_DIMS = 6
MAX_LITERAL_CHARS = 100_000
MAX_CAT_INPUTS = 3
MAX_ABS_EXPONENT = 64.0

# Autograd
MAX_EXPRESSION_CHARS = 500
MAX_EXPRESSION_NODES = 200
MAX_EXPRESSION_EXPONENT = 16.0
MAX_VARIABLES = 8
MAX_GRID_POINTS = 40_000  # 200 x 200
MAX_GRID_SIDE = 200
MAX_OPTIMIZER_STEPS = 2_000
MAX_EXPRESSION_DEPTH = 32  # nesting of operations in one expression
MAX_EXPRESSION_ELEMENTS = 1_000_000  # largest intermediate tensor an expression may create
MAX_EXPRESSION_TOTAL_ELEMENTS = 10_000_000  # all intermediate results of one evaluation together
MAX_GRADCHECK_WORK = 20_000_000  # numbers computed by all finite-difference evaluations together
MAX_GRADCHECK_ELEMENTS = 256  # leaf elements checked by finite differences (2 evaluations each)
MAX_ARROW_SIDE = 30  # gradient arrows per side on the 2-D field
MAX_OPTIMIZERS_COMPARED = 6
MAX_PLOT_RANGE = 1_000.0  # largest |x| or |y| a plot axis may reach

# Data
MAX_SAMPLES = 100_000
MIN_SAMPLES = 20
MAX_CSV_ROWS = 100_000
MAX_CSV_COLUMNS = 100
MAX_CSV_BYTES = 10 * 1024 * 1024
MAX_CLASSES = 20

# Model and training
MAX_HIDDEN_LAYERS = 8
MAX_LAYER_WIDTH = 256
MAX_EPOCHS = 2_000
MIN_LEARNING_RATE = 1e-5
MAX_LEARNING_RATE = 10.0
MAX_BATCH_SIZE = MAX_SAMPLES
MAX_CONCURRENT_TRAININGS = 4  # worker processes across the whole server
MAX_TRAININGS_PER_SESSION = 1

# Uploads and URLs
MAX_UPLOAD_BYTES = 10 * 1024 * 1024  # also server.maxUploadSize in .streamlit/config.toml
MAX_QUERY_VALUE_CHARS = 2_000
MAX_QUERY_KEYS = 64  # query parameters read from one URL; the rest are ignored with a note
MAX_CHECKPOINT_TENSORS = 64  # tensors in one uploaded checkpoint
MAX_CHECKPOINT_METADATA_BYTES = 256 * 1024  # a safetensors header (spec, classes, statistics)

# Run store
MAX_RUNS_LISTED = 1_000  # newest runs shown on the Runs page
MAX_RUNS_COMPARED = 8  # runs overlaid at once

# Seeds
MAX_SEED = 2**31 - 1

# Background training
TRAINING_IDLE_TIMEOUT_S = 600  # a run no page has looked at for this long is stopped (its session is gone)
MAX_DATALOADER_PREVIEW = 16  # rows of one batch shown in the DataLoader panel

# Jobs, the queue and the executors (playground/execution; issue 12 item 3, issue 14)
MAX_TRAININGS_PER_OWNER = MAX_TRAININGS_PER_SESSION  # active jobs of one owner, all their tabs together
MAX_QUEUED_JOBS = 4 * MAX_CONCURRENT_TRAININGS  # jobs waiting behind the running ones, per app server
# A job's budget: ten epochs of the largest data set at batch size 1 (the default run takes ~3,000 steps),
# and half an hour holding a worker, paused time included (the default run takes seconds). Past either the
# job stops with a sentence and keeps its weights; the step budget ends it at an epoch boundary.
MAX_JOB_STEPS = 10 * MAX_SAMPLES
MAX_JOB_SECONDS = 30 * 60
MAX_RAY_TRAININGS = 4 * MAX_CONCURRENT_TRAININGS  # jobs one app server runs at once on a Ray cluster
RAY_GPU_PER_JOB = 0.25  # the share of a GPU a CUDA job asks Ray for: small models, four to a GPU
RAY_IDLE_ACTORS = 1  # warm actors an app server keeps between jobs (each holds a CPU of the cluster)
