"""The CSV dataset as a newcomer meets it: an invitation (not an error) before any file, saying what the file
should look like; once a file is given, its column names whole in the network picture and no caption about a
plane it does not have."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree

from playground.builder import pictures
from playground.builder.datasets import csv_invitation
from playground.builder.model import parameter_count
from tests.app.conftest import open_page, picture_svgs, texts

PAGE = "pages/model_builder.py"
IRIS = b"sepal_length,sepal_width,petal_length,species\n" + b"".join(
    f"{4.5 + i % 9 * 0.3:.1f},{2.5 + i % 5 * 0.2:.1f},{1.2 + i % 7 * 0.7:.1f},{('setosa', 'virginica')[i % 7 > 3]}\n".encode()
    for i in range(60))


def test_before_any_file_the_csv_dataset_invites_an_upload_and_says_what_it_should_look_like():
    at = open_page(PAGE)
    at.button(key="mb_ds_csv").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]  # no red banner before the learner has done anything
    invitation = [i.value for i in at.info if "Upload a CSV file first" in i.value]
    assert invitation == [csv_invitation()]
    assert "header row" in invitation[0] and "target column" in invitation[0] and "sepal_length" in invitation[0]


def svgs(at) -> list[str]:
    return picture_svgs(at)


def test_a_csvs_names_are_drawn_whole_and_no_caption_speaks_of_a_plane():
    at = open_page(PAGE)
    at.button(key="mb_ds_csv").click().run()
    at.file_uploader(key="mb_csv_file").set_value(("iris.csv", IRIS, "text/csv")).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    network = [svg for svg in svgs(at) if ">output<" in svg]
    assert len(network) == 1
    labels = [e.text for e in ElementTree.fromstring(network[0]).iter("{http://www.w3.org/2000/svg}text")
              if e.get("text-anchor") == "end"]
    assert labels == ["sepal_length", "sepal_width", "petal_length"]  # whole, not "epal_le..."
    shown = texts(at)
    assert pictures.network_caption(parameter_count(at.session_state["mb_config"].model), over_plane=False) in shown
    assert "over the plane" not in shown and "Each picture: that input" not in shown
