"""A picture whose layers can be hovered and clicked: an SVG from playground/ (the network, the gradient-flow bars)
drawn inline by one small Streamlit component (st.components.v2: no iframe, no build step) instead of st.image.

Each ``<g data-layer="...">`` of the SVG is a layer: hovering it dims the others and shows its ``<title>`` beside the
pointer; clicking it sends its ``data-layer`` to Python as the trigger ``pick``. The SVG is the project's own
markup with every user text escaped (playground/builder/pictures.py); the JS and CSS below are constants. A redraw
(an epoch while training) is drawn hidden beneath the one shown and swapped in once its images have loaded, so the
picture never blinks, and the layer hovered stays highlighted across redraws."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

HTML = "<div class='picker'><div class='tip' hidden></div></div>"

CSS = """
.picker { position: relative; }
.frame svg { display: block; width: 100%; height: auto; }
.frame.incoming { position: absolute; top: 0; left: 0; width: 100%; visibility: hidden; }
g[data-layer] { cursor: pointer; }
.picker.hovering g[data-layer]:not(.hovered) { opacity: 0.35; }
g.chosen rect[stroke] { stroke: #d62728; stroke-width: 2; }
.tip { position: absolute; z-index: 1; pointer-events: none; white-space: nowrap; padding: 2px 6px;
       font: 12px sans-serif; color: #222; background: rgba(255, 255, 255, 0.95); border: 1px solid #bbb;
       border-radius: 4px; }
.tip[hidden] { display: none; }
"""

# Called again with each new ``data`` (a redraw): the handlers are reassigned, never added twice.
JS = """
export default function ({ parentElement, data, setTriggerValue }) {
  const holder = parentElement.querySelector(".picker");
  const tip = holder.querySelector(".tip");
  const mark = () => {
    const hover = holder.dataset.hover || "";
    holder.classList.toggle("hovering", hover !== "");
    holder.querySelectorAll("g[data-layer]").forEach((g) => {
      g.classList.toggle("hovered", g.dataset.layer === hover);
      g.classList.toggle("chosen", g.dataset.layer === data.chosen);
    });
  };
  const frame = document.createElement("div");
  frame.className = "frame";
  frame.innerHTML = data.svg;
  const seq = (holder.seq = (holder.seq || 0) + 1);
  const shown = holder.querySelectorAll(".frame");
  const swap = () => {
    if (holder.seq !== seq) { frame.remove(); return; }  // a newer picture came meanwhile
    holder.querySelectorAll(".frame").forEach((f) => { if (f !== frame) f.remove(); });
    frame.classList.remove("incoming");
    mark();
  };
  if (shown.length === 0) {
    holder.appendChild(frame);
    swap();
  } else {
    frame.classList.add("incoming");
    holder.appendChild(frame);
    const images = [...frame.querySelectorAll("image")].map((image) => new Promise((done) => {
      image.addEventListener("load", done, { once: true });
      image.addEventListener("error", done, { once: true });
    }));
    Promise.race([Promise.all(images), new Promise((done) => setTimeout(done, 300))]).then(swap);
  }
  const layerAt = (event) => event.target.closest && event.target.closest("g[data-layer]");
  holder.onclick = (event) => {
    const g = layerAt(event);
    if (g) setTriggerValue("pick", g.dataset.layer);
  };
  holder.onmousemove = (event) => {
    const g = layerAt(event);
    const layer = g ? g.dataset.layer : "";
    if (layer !== (holder.dataset.hover || "")) { holder.dataset.hover = layer; mark(); }
    const title = g && g.querySelector("title");
    tip.hidden = !title;
    if (!title) return;
    tip.textContent = title.textContent;
    const box = holder.getBoundingClientRect();
    const x = Math.min(event.clientX - box.left + 12, box.width - tip.offsetWidth - 2);
    tip.style.left = Math.max(0, x) + "px";
    tip.style.top = Math.max(0, event.clientY - box.top - tip.offsetHeight - 8) + "px";
  };
  holder.onmouseleave = () => { holder.dataset.hover = ""; tip.hidden = true; mark(); };
}
"""

PICKER = st.components.v2.component("playground_svg_picker", html=HTML, css=CSS, js=JS)
PICK = "pick"


def picture(svg: str, key: str, on_pick: Callable[[str], None], chosen: str | None = None) -> None:
    """``svg`` drawn at its container's width (as st.image draws it); a click on a layer calls ``on_pick`` with its
    ``data-layer`` (in the click's run, before the script). ``chosen``: the layer drawn outlined."""

    def picked() -> None:
        value = st.session_state[key].get(PICK)
        if value is not None:
            on_pick(str(value))

    PICKER(key=key, data={"svg": svg, "chosen": chosen}, on_pick_change=picked)
