"""The epoch line while the replay draws an earlier epoch: that epoch, and its metrics."""

from __future__ import annotations

from playground.builder.replay import epoch_counter, history_until, replayed

HISTORY = [{"epoch": e, "train_loss": 1.0 / e} for e in range(1, 101)]


def test_the_counter_names_the_epoch_drawn_while_replaying():
    assert epoch_counter(100, 100, 37) == "Epoch 37 / 100 (replay)"
    assert epoch_counter(60, 100, 12) == "Epoch 12 / 100 (replay)"  # stopped early: out of the epochs planned
    assert epoch_counter(100, None, 37) == "Epoch 37 / 100 (replay)"  # a kept run: out of its epochs


def test_the_counter_is_unchanged_without_a_replay_or_with_the_slider_at_its_end():
    for replay in (None, 100, 0, 250):
        assert epoch_counter(100, 100, replay) == "Epoch 100 / 100"
        assert epoch_counter(100, None, replay) == "Epoch 100"
    assert epoch_counter(0, 100) == "Epoch 0 / 100"


def test_the_metrics_are_those_of_the_epoch_drawn():
    assert history_until(HISTORY, 37)[-1] == {"epoch": 37, "train_loss": 1.0 / 37}
    assert history_until(HISTORY, None) == HISTORY == history_until(HISTORY, 100)
    assert history_until([], 5) == []
    assert replayed(1, 2) == 1 and replayed(2, 2) is None and replayed(None, 2) is None
