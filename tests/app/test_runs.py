"""The Runs page, driven like a user: kept runs listed a page at a time with the columns of their task,
filtered, overlaid by name in distinct colours, compared, renamed, pinned, opened, deleted; and, in
shared mode, two owners who cannot see or touch each other's runs."""

from __future__ import annotations

import pytest

from playground import limits
from playground.builder.config import ModelSpec
from playground.runs import comparison as compare
from playground.runs import owners
from playground.runs.naming import as_markdown_text
from playground.runs.store import SqliteRunStore
from tests.app.conftest import APP, cut_short, open_page, texts
from tests.sample_runs import make_trained

REGRESSION = ModelSpec(in_features=2, hidden=(4,), activations=("relu",), out_features=1, task="regression")
ALICE = {"is_logged_in": True, "email": "alice@example.com", "sub": "alice", "iss": "https://id.example"}
BOB = {"is_logged_in": True, "email": "bob@example.com", "sub": "bob", "iss": "https://id.example"}


def owner_of(user: dict) -> str:
    return owners.identify(owners.SHARED, user=user).owner


@pytest.fixture
def store(tmp_path, monkeypatch) -> SqliteRunStore:
    monkeypatch.setenv("PLAYGROUND_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("PLAYGROUND_STORE_URL", raising=False)
    monkeypatch.delenv("PLAYGROUND_MODE", raising=False)
    return SqliteRunStore(tmp_path / "data")


SVG = "{http://www.w3.org/2000/svg}"


def page_svgs(at) -> list:
    """Every SVG picture on the page (st.image of an SVG), parsed, in page order."""
    import base64
    import xml.etree.ElementTree as ElementTree

    return [ElementTree.fromstring(base64.b64decode(img.url.split(",", 1)[1]).decode()) for element in at.get("image")
            for img in element.proto.imgs if img.url.startswith("data:image/svg+xml;base64,")]


def chart_svgs(at) -> list:
    """The overlaid curves (loss, then accuracy): the pictures with a curve a run."""
    return [svg for svg in page_svgs(at) if any(p.get("class") == "curve" for p in svg.iter(f"{SVG}polyline"))]


def chart_legends(at) -> list[dict[str, str]]:
    return [{g.get("data-run"): "".join(g.itertext()) for g in svg.iter(f"{SVG}g") if g.get("class") == "legend"}
            for svg in chart_svgs(at)]


def runs_table(at):
    return at.dataframe[0].value  # the first table on the page: the kept runs (indexed by run id)


def settings_table(at):
    return at.dataframe[1].value  # the second: settings side by side


def open_as(user: dict | None, run_link: str | None = None):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(APP), default_timeout=60)
    if user is not None:
        at.user = user
    if run_link:
        at.query_params["run"] = run_link
    at.run()
    at.switch_page("pages/runs.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_no_runs_says_how_to_get_some(store):
    at = open_page("pages/runs.py")
    assert "No runs are kept yet" in texts(at)


def test_runs_are_listed_by_name_filtered_and_sorted(store):
    ids = [store.save(make_trained(seed=i, lr=0.01 * (i + 1), optimizer=("adam", "sgd")[i % 2])) for i in range(3)]
    at = open_page("pages/runs.py")
    table = runs_table(at)
    assert sorted(table.index) == sorted(ids)
    assert list(table.columns) == list(compare.TASK_COLUMNS["classification"])
    assert set(table["name"]) == {"spiral3 · 2-8 tanh-4 relu-3 · Adam 0.01", "spiral3 · 2-8 tanh-4 relu-3 · SGD 0.02",
                                  "spiral3 · 2-8 tanh-4 relu-3 · Adam 0.03"}
    assert at.dataframe[0].proto.placeholder == "—"  # a missing number is a dash, never "None"

    at.multiselect(key="runs_filter_optimizer_classification").set_value(["sgd"]).run()
    assert list(runs_table(at).index) == [ids[1]]
    assert "1 of 1 runs shown; 3 kept in all" in texts(at)

    at.multiselect(key="runs_filter_optimizer_classification").set_value([]).run()
    at.selectbox(key="runs_sort_by_classification").set_value("learning rate").run()
    at.toggle(key="runs_sort_descending").set_value(False).run()
    assert list(runs_table(at).index) == ids
    at.text_input(key="runs_filter_text").set_value("SGD 0.02").run()
    assert list(runs_table(at).index) == [ids[1]]


def test_a_filter_that_matches_nothing_is_a_sentence_and_the_page_keeps_working(store):
    """A typo, ``nan`` or ``[`` in the text filter, or two filters no run shares: a sentence naming the filter, no
    Streamlit error box; clearing the filter brings the runs and the run picker back."""
    ids = [store.save(make_trained(seed=1, optimizer="adam")),
           store.save(make_trained(seed=2, optimizer="sgd", dataset="circle"))]
    at = open_page("pages/runs.py")
    for typed in ("zzz", "nan", "[", "![x](y)"):
        at.text_input(key="runs_filter_text").set_value(typed).run()
        assert not at.exception, (typed, [e.value for e in at.exception])
        said = [info.value for info in at.info if "No kept run matches" in info.value]
        assert len(said) == 1, (typed, texts(at))
        assert f"name or run id contains \u201c{as_markdown_text(typed)}\u201d" in said[0]
        assert "Your 2 kept runs are still there" in said[0]
        assert "0 of 0 runs shown; 2 kept in all." in texts(at)
        assert all(box.key != "runs_action_run" for box in at.selectbox)  # no empty picker to choose from
        assert "Choose a run from the table above" in texts(at)
    at.text_input(key="runs_filter_text").set_value("").run()
    assert sorted(runs_table(at).index) == sorted(ids) and not any("No kept run" in i.value for i in at.info)
    assert at.selectbox(key="runs_action_run").value in ids

    at.multiselect(key="runs_filter_dataset_classification").set_value(["spiral3"]).run()
    at.multiselect(key="runs_filter_optimizer_classification").set_value(["sgd"]).run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("(dataset spiral3; optimizer sgd; classifiers)" in info.value for info in at.info), texts(at)


def test_each_task_has_its_own_columns(store):
    classifier = store.save(make_trained(seed=1))
    regressor = store.save(make_trained(REGRESSION, seed=2, dataset="plane"))
    at = open_page("pages/runs.py")
    task = at.segmented_control(key="runs_task")
    assert list(runs_table(at).index) == [classifier] and "test accuracy" in runs_table(at).columns
    task.set_value("regression").run()
    table = runs_table(at)
    assert list(table.index) == [regressor]
    assert list(table.columns) == list(compare.TASK_COLUMNS["regression"])
    assert "test accuracy" not in table.columns and table["test MSE"].notna().all()


def test_every_run_is_reachable_a_page_at_a_time(store):
    ids = [store.save(make_trained(seed=i)) for i in range(limits.RUNS_PAGE_SIZE + 5)]
    at = open_page("pages/runs.py")
    first = list(runs_table(at).index)
    assert len(first) == limits.RUNS_PAGE_SIZE
    at.pagination(key="runs_page").set_value(2).run()
    second = list(runs_table(at).index)
    assert len(second) == 5 and sorted(first + second) == sorted(ids)  # no run left out, none twice
    assert f"5 of {len(ids)} runs shown (runs {limits.RUNS_PAGE_SIZE + 1}-{limits.RUNS_PAGE_SIZE + 5}, page 2 of 2)" in texts(at)


def test_selected_runs_are_overlaid_by_name_in_distinct_colours(store):
    a = store.save(make_trained(seed=1, lr=0.01))
    b = store.save(make_trained(seed=2, lr=0.05))
    at = open_page("pages/runs.py")
    at.multiselect(key="runs_selected").set_value([a, b]).run()
    assert not at.exception
    legend = chart_legends(at)
    assert len(legend) == 2  # loss and accuracy
    assert set(legend[0].values()) == {"spiral3 · 2-8 tanh-4 relu-3 · Adam 0.01",
                                       "spiral3 · 2-8 tanh-4 relu-3 · Adam 0.05"}  # named, not by hex id
    assert set(legend[0]) == {a, b} and legend[0] == legend[1]
    colours = {line.get("stroke") for svg in chart_svgs(at) for line in svg.iter(f"{SVG}polyline")}
    assert len(colours) == 2 and colours <= set(compare.PALETTE)
    assert "Highlighted rows differ: learning rate, seed" in texts(at)
    settings = settings_table(at)
    names = compare.legend_names([store.summary(a), store.summary(b)])
    assert settings.loc["learning rate", names[a]] == "0.01" and settings.loc["learning rate", names[b]] == "0.05"
    at.slider(key="runs_smoothing").set_value(0.9).run()
    assert not at.exception


def test_a_run_is_renamed_and_pinned_and_the_store_keeps_both(store):
    run_id = store.save(make_trained(seed=1))
    at = open_page("pages/runs.py")
    at.text_input(key=f"runs_name_{run_id}").set_value("![x](http://example.com/i.png) best so far").run()
    assert not at.exception
    assert store.summary(run_id).label == "![x](http://example.com/i.png) best so far"
    assert runs_table(at)["name"].iloc[0] == "![x](http://example.com/i.png) best so far"  # text, never markdown
    at.toggle(key=f"runs_pin_{run_id}").set_value(True).run()
    assert store.summary(run_id).pinned and bool(runs_table(at)["pinned"].iloc[0]) is True
    at.button(key="runs_delete").click().run()
    assert "example.com" not in " ".join(str(w.value) for w in at.warning).replace("example\\.com", "")


def test_delete_asks_first(store):
    keep = store.save(make_trained(seed=1))
    doomed = store.save(make_trained(seed=2))
    at = open_page("pages/runs.py")
    at.selectbox(key="runs_action_run").set_value(doomed).run()
    at.button(key="runs_delete").click().run()
    assert f"Delete run {doomed}" in texts(at)
    assert len(store.list()) == 2  # nothing gone yet
    at.button(key="runs_delete_no").click().run()
    assert len(store.list()) == 2 and f"Delete run {doomed}" not in texts(at)

    at.selectbox(key="runs_action_run").set_value(doomed).run()
    at.button(key="runs_delete").click().run()
    at.button(key="runs_delete_yes").click().run()
    assert not at.exception
    assert [s.run_id for s in store.list()] == [keep]
    assert f"Run {doomed} was deleted" in texts(at)


def test_open_in_model_builder_hands_over_the_run(store):
    kept = make_trained(seed=4, lr=0.07, optimizer="sgd")
    run_id = store.save(kept)
    at = open_page("pages/runs.py")
    at.selectbox(key="runs_action_run").set_value(run_id).run()
    at.button(key="runs_open").click().run()
    assert not at.exception, [e.value for e in at.exception]
    # The Model Builder took the run: its widgets carry the run's setup, and the run is its model.
    assert at.session_state["mb_trained"].config == kept.config
    assert at.session_state["mb_seed"] == 4 and at.session_state["mb_lr"] == 0.07
    assert at.session_state["mb_optimizer"] == "sgd" and at.session_state["mb_dataset"] == "spiral3"
    assert at.session_state["mb_url_run_handled"] == run_id
    assert len(store.list()) == 1  # opening a kept run does not keep it again
    # "Opening <run>..." is said at the Model Builder's top while it draws the run, and gone once it is drawn.
    assert "mb_opening" not in at.session_state
    assert f"Opening {run_id}" not in texts(at) and f"run {run_id}" in texts(at)


def test_delete_its_confirmation_and_open_are_kept_when_the_next_click_cuts_their_run_short(store, monkeypatch):
    """Each press is kept in the session until the page acts on it: a run cut short by the next interaction (a
    click elsewhere reruns the page with no press) used to lose Delete, Yes and Open."""
    keep = store.save(make_trained(seed=1))
    doomed = store.save(make_trained(seed=2))
    at = open_page("pages/runs.py")
    at.selectbox(key="runs_action_run").set_value(doomed).run()
    fired = cut_short(monkeypatch, compare, "task_choices")  # called near the page's top, before the buttons act
    at.button(key="runs_delete").click().run()
    assert fired, "the run was cut short"
    assert f"Delete run {doomed}" in texts(at)
    fired = cut_short(monkeypatch, compare, "task_choices")
    at.button(key="runs_delete_yes").click().run()
    assert fired and not at.exception
    assert [s.run_id for s in store.list()] == [keep] and f"Run {doomed} was deleted" in texts(at)
    assert "runs_confirm_delete" not in at.session_state and "runs_delete_confirmed" not in at.session_state
    fired = cut_short(monkeypatch, compare, "task_choices")
    at.button(key="runs_open").click().run()
    assert fired and not at.exception, [e.value for e in at.exception]
    assert at.session_state["mb_url_run_handled"] == keep and at.session_state["mb_trained"].config == store.get(
        keep).config
    assert "runs_open_pressed" not in at.session_state


def test_a_press_for_a_run_no_longer_chosen_does_nothing(store):
    first = store.save(make_trained(seed=1))
    second = store.save(make_trained(seed=2))
    at = open_page("pages/runs.py")  # (Cancel, a callback now, is driven in test_delete_asks_first)
    at.session_state["runs_open_pressed"] = second  # pressed for the run chosen then; another is chosen now
    at.selectbox(key="runs_action_run").set_value(first).run()
    assert "mb_url_run_handled" not in at.session_state and "runs_open_pressed" not in at.session_state
    assert "Runs" in [t.value for t in at.title]  # still on the Runs page


def test_the_model_builder_says_which_run_it_opens_before_it_draws_it():
    """Drawn by the control bar, before the page imports or computes anything: a switch from the Runs page can be
    too short for the Runs page's own "Opening..." to be seen, this one stays while the run is drawn."""
    from streamlit.testing.v1 import AppTest

    def bar_only():
        import streamlit as st

        from views import model_builder_bar

        if "handed_over" not in st.session_state:  # as the Runs page hands it over: once
            st.session_state["handed_over"] = st.session_state["mb_opening"] = "0123456789ab"
        model_builder_bar.draw()

    at = AppTest.from_function(bar_only).run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("Opening 0123456789ab in the Model Builder" in c.value for c in at.caption)
    assert "mb_opening" not in at.session_state  # said once: the next run of the page does not say it again
    at.run()
    assert not any("Opening" in c.value for c in at.caption)


def test_the_history_downloads_are_offered(store):
    store.save(make_trained(seed=1))
    at = open_page("pages/runs.py")
    keys = {b.key for b in at.get("download_button")}
    assert {"runs_download_history_csv", "runs_download_history_json", "runs_download_pt"} <= keys


def test_evicted_runs_are_noted_until_dismissed(store, monkeypatch):
    from playground.runs.store import StoreBounds

    small = SqliteRunStore(store.data_dir, bounds=StoreBounds(2, 10**9, 2, 10**9))
    oldest = small.save(make_trained(seed=1))
    small.save(make_trained(seed=2))
    small.save(make_trained(seed=3))
    at = open_page("pages/runs.py")
    assert "1 of your runs were removed to make room" in texts(at) and oldest in texts(at)
    at.button(key="runs_dismiss_evictions").click().run()
    assert "removed to make room" not in texts(at)


def test_a_run_linked_by_id_is_preselected(store):
    store.save(make_trained(seed=1))
    linked = store.save(make_trained(seed=2))
    at = open_page("pages/runs.py")
    at.query_params["run"] = linked
    at.run()
    assert f"Run {linked} was opened from the link" in texts(at)
    assert at.selectbox(key="runs_action_run").value == linked


@pytest.mark.parametrize("bad", ["0123456789ab", "../../etc/passwd", "<script>"])
def test_a_bad_run_link_is_a_sentence(store, bad):
    store.save(make_trained(seed=1))
    at = open_page("pages/runs.py")
    at.query_params["run"] = bad
    at.run()
    assert not at.exception
    assert at.error and ("no kept run" in at.error[0].value or "not a run id" in at.error[0].value)
    assert "<script>" not in texts(at).replace("'<script>'", "")


def test_an_unwritable_data_folder_is_said_and_the_page_still_works(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setenv("PLAYGROUND_DATA_DIR", str(blocker / "data"))
    at = open_page("pages/runs.py")
    assert "runs will not be kept" in texts(at)


# ------------------------------------------------------------------------------------ shared mode


def test_two_owners_in_shared_mode_see_and_touch_only_their_own_runs(store, monkeypatch):
    monkeypatch.setenv("PLAYGROUND_MODE", "shared")
    alices = store.save(make_trained(seed=1), owner=owner_of(ALICE))
    bobs = store.save(make_trained(seed=2, lr=0.1), owner=owner_of(BOB))
    personal = store.save(make_trained(seed=3))  # kept in personal mode before: nobody's on a shared server

    alice = open_as(ALICE)
    assert list(runs_table(alice).index) == [alices]
    assert alice.selectbox(key="runs_action_run").options == [store.summary(alices).label + " · " + alices]
    bob = open_as(BOB)
    assert list(runs_table(bob).index) == [bobs]
    assert alices not in texts(bob) and personal not in texts(bob)

    # Bob forges a delete of Alice's run through his session's state: refused, her run stays.
    bob.session_state["runs_confirm_delete"] = alices
    bob.run()
    assert not bob.exception and not [b for b in bob.button if b.key == "runs_delete_yes"]
    assert store.summary(alices).owner == owner_of(ALICE)

    # Alice deletes her own.
    alice.button(key="runs_delete").click().run()
    alice.button(key="runs_delete_yes").click().run()
    assert store.list(owner_of(ALICE)) == [] and [s.run_id for s in store.list(owner_of(BOB))] == [bobs]


def test_a_share_link_opens_a_read_only_copy_for_another_owner(store, monkeypatch):
    monkeypatch.setenv("PLAYGROUND_MODE", "shared")
    alices = store.save(make_trained(seed=1), owner=owner_of(ALICE))
    bob = open_as(BOB, run_link=alices)
    assert "was shared with you: a read-only copy" in texts(bob)
    assert bob.selectbox(key="runs_action_run").value == alices
    keys = {b.key for b in bob.button} | {b.key for b in bob.get("download_button")}
    assert "runs_open" in keys and "runs_download_pt" in keys and "runs_download_history_csv" in keys
    assert "runs_delete" not in keys  # view and download, never delete
    assert not [w for w in bob.text_input if w.key == f"runs_name_{alices}"]
    assert not [w for w in bob.toggle if w.key == f"runs_pin_{alices}"]
    assert bob.multiselect(key="runs_selected").value == [alices]  # and it can be compared
    # Opening it in the Model Builder gives Bob the setup and the weights, not Alice's run to keep.
    bob.button(key="runs_open").click().run()
    assert not bob.exception
    assert bob.session_state["mb_trained"].config == store.get(alices).config
    assert store.list(owner_of(BOB)) == [] and store.count(owner_of(ALICE)) == 1


def test_a_share_link_in_the_model_builder_says_whose_run_it_is(store, monkeypatch):
    monkeypatch.setenv("PLAYGROUND_MODE", "shared")
    alices = store.save(make_trained(seed=1), owner=owner_of(ALICE))
    from streamlit.testing.v1 import AppTest

    bob = AppTest.from_file(str(APP), default_timeout=60)
    bob.user = BOB
    bob.query_params["run"] = alices
    bob.run()
    bob.switch_page("pages/model_builder.py")
    bob.run()
    bob.run()
    assert not bob.exception, [e.value for e in bob.exception]
    shown = texts(bob)
    assert f"Run {alices} was shared with you by its link" in shown and "the Runs page lists it" not in shown
    assert store.list(owner_of(BOB)) == []  # opening it keeps nothing for Bob


def test_anonymous_visitors_are_separate_owners(store, monkeypatch):
    monkeypatch.setenv("PLAYGROUND_MODE", "shared")
    first, second = open_as(None), open_as(None)
    a = first.session_state["identity_of_session"]
    b = second.session_state["identity_of_session"]
    assert a.kind == b.kind == "anonymous" and a.owner != b.owner
    first.run()
    assert first.session_state["identity_of_session"].owner == a.owner  # a session keeps its owner


def with_layer_statistics(trained, lr: float):
    """``trained`` with the per-layer statistics of a real short training of its setup (as the worker records
    them each epoch), its rate ``lr``."""
    import dataclasses

    from playground.builder.datasets import prepare_data
    from playground.builder.training import Trainer

    config = dataclasses.replace(trained.config, train=dataclasses.replace(trained.config.train, lr=lr))
    trainer = Trainer(config, prepare_data(config.data).arrays(), device="cpu", layer_stats_every=1)
    rows = []
    for _ in trained.history:
        trainer.run_epoch()
        rows.append({**trainer.history[-1], "layers": trainer.last_layers})
    return dataclasses.replace(trained, config=config, history=tuple(rows))


def test_a_kept_runs_layers_are_drawn_and_two_runs_gradient_flow_side_by_side(store):
    a = store.save(with_layer_statistics(make_trained(seed=1, epochs=3), lr=0.01))
    b = store.save(with_layer_statistics(make_trained(seed=2, epochs=3), lr=0.5))
    old = store.save(make_trained(seed=3, epochs=3))  # kept before the statistics were recorded
    at = open_page("pages/runs.py")
    at.multiselect(key="runs_selected").set_value([a, b, old]).run()
    assert not at.exception, [e.value for e in at.exception]
    names = compare.legend_names([store.summary(r) for r in (a, b, old)])
    assert f"Kept before per-layer statistics were recorded, so not drawn here: {as_markdown_text(names[old])}." in texts(at)
    assert at.multiselect(key="runs_inside_runs").value == [a, b]

    def drawn(kind: str) -> list[list[str]]:
        return [[g.get("data-layer") for g in svg.iter(f"{SVG}g") if g.get("class") == kind] for svg in page_svgs(at)
                if any(g.get("class") == kind for g in svg.iter(f"{SVG}g"))]

    layers = ["layers.0", "layers.2", "layers.4"]  # 2-8 tanh-4 relu-3: three linear layers
    assert drawn("layer") == [layers, layers]  # a gradient-flow chart a run, side by side
    assert drawn("distribution") == [layers, layers]  # and each layer's weights over the epochs
    titles = [" ".join(t.text or "" for t in svg.iter(f"{SVG}text")) for svg in page_svgs(at)]
    assert sum("gradient norm per layer · epoch 3" in t for t in titles) == 2
    import xml.etree.ElementTree as ElementTree

    flows = [ElementTree.tostring(svg) for svg in page_svgs(at) if any(g.get("class") == "layer" for g in svg.iter())]
    assert flows[0] != flows[1]  # each run's own figures (rates 0.01 and 0.5), not one drawn twice
    markdown = [str(m.value) for m in at.markdown]
    assert [m for m in markdown if m in {f"**{as_markdown_text(names[r])}**" for r in (a, b)}] == [
        f"**{as_markdown_text(names[a])}**", f"**{as_markdown_text(names[b])}**"]

    at.slider(key="runs_inside_epoch_1_3").set_value(1).run()  # an earlier epoch's gradient flow
    titles = [" ".join(t.text or "" for t in svg.iter(f"{SVG}text")) for svg in page_svgs(at)]
    assert sum("gradient norm per layer · epoch 1" in t for t in titles) == 2

    at.multiselect(key="runs_inside_runs").set_value([b]).run()  # one run alone
    assert drawn("layer") == [layers]
    at.multiselect(key="runs_selected").set_value([old]).run()  # no run with statistics: said, nothing drawn
    assert not at.exception and drawn("layer") == []
