"""Every limit of the playground, in one place.

Pages may use these numbers for widget ranges, but the logic in ``playground/`` enforces them itself,
so a value that reaches it by another road (a URL, a test, a crafted request) is still checked.
"""

from __future__ import annotations

# Tensor Lab
MAX_TENSOR_ELEMENTS = 10_000  # numbers in one tensor: every input, and every operation's result before it is made
MAX_TENSOR_SIZE = MAX_TENSOR_ELEMENTS  # each size of a shape on its own: with a 0 in a shape the product is no bound
MAX_TENSOR_DIMS = 6
MAX_LITERAL_CHARS = 100_000
MAX_CAT_INPUTS = 3
MAX_ABS_EXPONENT = 64.0
MAX_EXPONENT_CHARS = 32  # the exponent box (a 4,301-digit one is a sentence, never int()'s ValueError)
MAX_SHAPE_CHARS = 200  # every shape box, Tensor Lab's and Autograd's
MAX_NUMBER_LIST_CHARS = 4_000  # "array values" of the from_numpy demo (at most 100 numbers)

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
# Optimizer paths: steps x paths x (parts of the function + OPTIMIZER_STEP_COST) at most MAX_OPTIMIZER_WORK.
# A step's fixed cost (zero_grad, backward, optimizer.step) is about that of 100 parts of the function;
# the bound is about 2.5 s of CPU on the 2-core CI machine (6 paths of 1,000 steps on Rosenbrock pass).
OPTIMIZER_STEP_COST = 100
MAX_OPTIMIZER_WORK = 800_000
MAX_PLOT_RANGE = 1_000.0  # largest |x| or |y| a plot axis may reach
MAX_GRAPH_NODE_ELEMENTS = 1_000  # a graph node keeps its numbers up to this size, else only their summary
AUTOGRAD_CACHE_BYTES = 32 * 1024 * 1024  # results of the Autograd page kept for every session together
AUTOGRAD_CACHE_TTL_S = 600.0  # a result unused this long is dropped

# Data
MAX_SAMPLES = 100_000
MIN_SAMPLES = 20
MAX_CSV_ROWS = 100_000
MAX_CSV_COLUMNS = 100
MAX_CSV_BYTES = 10 * 1024 * 1024
MAX_CSV_CELL_CHARS = 10_000  # one cell (or column name) of an uploaded CSV
MAX_SESSION_DATA_BYTES = MAX_CSV_BYTES  # prepared tensors one session keeps (a CSV session stays within 3x its file)
MAX_CLASSES = 20

# Model and training
MAX_HIDDEN_LAYERS = 8
MAX_LAYER_WIDTH = 256
MAX_EPOCHS = 2_000
MIN_LEARNING_RATE = 1e-5
MAX_LEARNING_RATE = 10.0
MAX_BATCH_SIZE = MAX_SAMPLES
MAX_LR_CHANGES = 50  # learning rates changed live during one run
MAX_CONCURRENT_TRAININGS = 4  # worker processes across the whole server
LIVE_RUNS_AT_FULL_RATE = MAX_CONCURRENT_TRAININGS  # live runs (training or waiting) whose pages all redraw at the
# full rate; with more, every live page redraws proportionally less often, so the server's redraws stay bounded
MAX_TRAININGS_PER_SESSION = 1

# Uploads and URLs
MAX_UPLOAD_BYTES = 10 * 1024 * 1024  # also server.maxUploadSize in .streamlit/config.toml
MAX_QUERY_VALUE_CHARS = 2_000
MAX_QUERY_KEYS = 64  # query parameters read from one URL; the rest are ignored with a note
MAX_QUERY_NUMBER_CHARS = 40  # one number in a link (no number of this playground is longer): refused before float()
MAX_CHECKPOINT_TENSORS = 64  # tensors in one uploaded checkpoint
MAX_CHECKPOINT_METADATA_BYTES = 256 * 1024  # a safetensors header (spec, classes, statistics)

# Run store: bounds, owners, the Runs page (brief B1). Past a bound the oldest unpinned runs are evicted,
# with a note the Runs page shows; a run that cannot fit (all pinned, or bigger than a bound) is refused.
STORE_MAX_RUNS = 5_000  # personal mode: runs kept in all (the one user's)
STORE_MAX_BYTES = 2 * 1024**3  # personal mode: weight bytes kept in all
SHARED_STORE_MAX_RUNS = 20_000  # shared mode: the whole store, every owner together
SHARED_STORE_MAX_BYTES = 8 * 1024**3
SHARED_OWNER_MAX_RUNS = 200  # shared mode: one owner's runs
SHARED_OWNER_MAX_BYTES = 100 * 1024**2  # shared mode: one owner's weight bytes (54 runs of the largest model)
SHARED_OWNER_SAVES = 10  # shared mode: runs one owner may keep per window ...
SHARED_SAVE_WINDOW_S = 60.0  # ... of this many seconds
MAX_RUN_NAME_CHARS = 120  # a run's editable name
MAX_EVICTION_NOTES = 20  # "removed to make room" notes kept per owner
RUNS_PAGE_SIZE = 25  # rows of the Runs table a page

# Weights import: a .pt is checked before anything in it is unpickled (playground/runs/pt_archive.py),
# then loaded in a short-lived child process under these limits (playground/runs/pt_loader.py).
MAX_PT_RECORDS = 600  # records in the zip archive
MAX_PT_STORAGES = 512  # storages (a checkpoint with optimizer state has about three per weight)
MAX_PT_PICKLE_BYTES = 2 * 1024 * 1024  # the data.pkl record
MAX_PT_PICKLE_OPS = 200_000  # pickle instructions walked
MAX_PT_DATA_BYTES = 32 * 1024 * 1024  # declared record bytes, and bytes of all tensors' elements (the largest model: 1.8 MB)
MAX_PT_STRING_CHARS = 65_536  # one string in the pickle
MAX_PT_MEMO_REUSES = 100_000  # values fetched again from the pickle's memo (atoms, flat tuples, tensors)
MAX_PT_STACK = 10_000  # open MARKs
MAX_PT_DEPTH = 16  # containers nested in containers
MAX_PT_TENSOR_DIMS = 16
LOADER_MEMORY_BYTES = 512 * 1024 * 1024  # address space the loading child may add to what torch needs
LOADER_CPU_S = 10  # CPU seconds of the loading child
LOADER_WALL_S = 15.0  # wall-clock seconds of one load
LOADER_START_S = 120.0  # the loader process importing torch, on a busy machine
LOADER_IDLE_S = 300.0  # the loader process exits after this long unused

# Run store
MAX_RUNS_LISTED = 1_000  # newest runs shown on the Runs page
MAX_RUNS_COMPARED = 8  # runs overlaid at once

# Names and text a user gives (CSV names, column names, run names)
MAX_NAME_CHARS = 200

# Seeds
MAX_SEED = 2**31 - 1

# Background training
TRAINING_IDLE_TIMEOUT_S = 90  # a run no page has looked at for this long is stopped (its session is gone). An open
# page looks every 0.2-2 s (a hidden tab whose timers the browser throttles, at least once a minute); a session
# that vanished is otherwise freed only when Python's cycle collector next reaches it, which a busy server delays.
UNSEEN_COLLECT_S = 10  # a run no page has looked at for this long makes the server collect garbage (at most this
# often): a vanished session's handle sits in reference cycles, and freeing it stops the run well before the timeout.
MAX_REPLAY_SNAPSHOTS = 300  # views of one run kept for the replay scrubber (thinned beyond)
MAX_REPLAY_BYTES = 8 * 1024 * 1024  # and their memory, per run
MAX_DATALOADER_PREVIEW = 16  # rows of one batch shown in the DataLoader panel

# Jobs, the queue and the executors (playground/execution; issue 12 item 3, issue 14)
MAX_TRAININGS_PER_OWNER = MAX_TRAININGS_PER_SESSION  # active jobs of one owner, all their tabs together
MAX_QUEUED_JOBS = 4 * MAX_CONCURRENT_TRAININGS  # jobs waiting behind the running ones, per app server
# Jobs waiting from one client address (in shared mode, per app server, like the queue): half the queue, so one
# address (a client that makes a new owner on every visit, or a classroom behind one NAT) never fills it alone.
MAX_QUEUED_JOBS_PER_ADDRESS = MAX_QUEUED_JOBS // 2
# A job's budget: ten epochs of the largest data set at batch size 1 (the default run takes ~3,000 steps),
# and half an hour holding a worker, paused time included (the default run takes seconds). Past either the
# job stops with a sentence and keeps its weights; the step budget ends it at an epoch boundary.
MAX_JOB_STEPS = 10 * MAX_SAMPLES
MAX_JOB_SECONDS = 30 * 60
MAX_RAY_TRAININGS = 4 * MAX_CONCURRENT_TRAININGS  # jobs one app server runs at once on a Ray cluster
RAY_GPU_PER_JOB = 0.25  # the share of a GPU a CUDA job asks Ray for: small models, four to a GPU
RAY_IDLE_ACTORS = 1  # warm actors an app server keeps between jobs (each holds a CPU of the cluster)

# Sweeps (playground/builder/sweep.py): every member trains at once, in one process
MAX_SWEEP_MEMBERS = 64  # models in one sweep (the grid of its axes)
MAX_SWEEP_AXES = 2  # settings varied at once
MAX_SWEEP_PARAMETERS = 4_000_000  # members x parameters: the stacked weights (and as much again per optimizer state)
MAX_SWEEP_WORK = 2_000_000_000  # members x parameters x training rows: one epoch's work (a few seconds on one core)
MAX_SWEEP_ACTIVATIONS = 32_000_000  # members x rows in flight x hidden neurons (128 MB of float32 a copy)

# Sweeps as jobs and the Sweeps page (pages/sweeps.py; issue 13 items 1, 2 and 6). A sweep is one job: it
# counts against MAX_CONCURRENT_TRAININGS and MAX_TRAININGS_PER_OWNER like a run, and each member against
# MAX_JOB_STEPS (the members step together). Members x parameters x samples are bounded above.
MAX_SWEEP_VALUES_CHARS = 1_000  # the text box of an axis's listed values
SWEEP_TILE_SIDE = 32  # points a side of each member's boundary in a view (64 members: 64 KB a view)
MAX_SWEEP_TILE_POINTS = 120  # training points drawn on each small multiple (all of them on the chosen member)

# Course mode (playground/course, playground/runs/progress.py; issue 24)
MAX_COURSE_ANSWER_CHARS = 300  # one typed answer (a shape, values, an expression, line numbers, key names)
MAX_COURSE_KEYS = 16  # names in a "name the state_dict keys" answer
COURSE_TRIES_BEFORE_ANSWER = 3  # wrong answers before the worked answer and its torch code are shown
MAX_COURSE_SEED = 1_000_000  # variants of one exercise ("new numbers" picks among them)
COURSE_RUNS_CHECKED = 10  # newest kept runs of the asked dataset whose validation accuracy is recomputed

# A class server's visitors, across identities (playground/runs/owners.py; issue 22 item 3). A client that sends
# no cookie is a new anonymous owner on every visit: past this many new owners from one client address in the
# window, that address's cookie-less visitors share one owner (so the per-owner bounds hold for them together).
# Generous: a classroom behind one NAT address makes one new owner per student.
MAX_NEW_OWNERS_PER_ADDRESS = 100  # new anonymous owners one client address may make per window, per app server
NEW_OWNER_WINDOW_S = 600.0
MAX_TRACKED_ADDRESSES = 10_000  # client addresses remembered for that count (the oldest forgotten first)

# Inside training (playground/builder/layer_stats.py; issue 23 item 1): what each layer records per epoch
LAYER_STATS_BINS = 16  # histogram bins of a layer's weights (and biases) per recorded epoch
LAYER_STATS_MAX_LAYERS = MAX_HIDDEN_LAYERS + 1  # Linear layers recorded (all of them: hidden plus output)
LAYER_STATS_MAX_EPOCHS = 200  # epochs of a run that carry statistics (a longer run records every k-th epoch)
LAYER_STATS_ROWS = 4_096  # training rows the dead-unit pass reads at an epoch's end
# a sweep's figures in all (float32; 64 members x 9 layers x 64 figures an epoch keep ~100 epochs, 16 MB): a long
# sweep of many members records every k-th epoch (sweep_layer_stats.sweep_stride)
LAYER_STATS_SWEEP_NUMBERS = 4_000_000
