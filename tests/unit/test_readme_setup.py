"""The README's set-up as a newcomer follows it: its first command makes and activates a virtual environment,
and ``streamlit run app.py`` prints the address the README shows (the next free port when 8501 is taken),
which answers, and Ctrl+C stops it."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SECTION = re.compile(r"## Run it\n(.*?)\n## ", re.DOTALL)
FENCE = re.compile(r"```(\w*)\n(.*?)```", re.DOTALL)


def run_it() -> list[tuple[str, str]]:
    """The fenced blocks of the README's "Run it" section: (language, text)."""
    section = SECTION.search((ROOT / "README.md").read_text())
    assert section, "the README has a 'Run it' section"
    return FENCE.findall(section.group(1))


def test_the_first_commands_make_and_activate_a_virtual_environment_then_start_the_app(tmp_path):
    commands = run_it()[0][1].strip().splitlines()
    assert commands == ["python3 -m venv .venv && . .venv/bin/activate", "pip install -r requirements.txt",
                        "streamlit run app.py"]
    # The first line, verbatim, in an empty folder (pip left out: what matters is that python is the venv's after it).
    line = commands[0].replace("-m venv .venv", "-m venv --without-pip .venv")
    done = subprocess.run(["bash", "-c", f"{line} && python -c 'import sys; print(sys.prefix)'"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert Path(done.stdout.strip()) == (tmp_path / ".venv").resolve()


def test_the_app_prints_the_url_the_readme_shows_and_it_answers():
    shown = next(text for language, text in run_it() if "You can now view" in text)
    readme_url = re.search(r"URL: (http://\S+)", shown).group(1)
    assert readme_url == "http://127.0.0.1:8501"
    env = {**os.environ, "PLAYGROUND_DATA_DIR": str(ROOT / "artifacts" / "readme-setup-data")}
    server = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py"], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    printed: list[str] = []
    try:
        deadline = time.monotonic() + 90
        url = None
        while time.monotonic() < deadline and url is None:
            line = server.stdout.readline()
            if not line:
                break
            printed.append(line)
            found = re.match(r"\s+URL: (http://127\.0\.0\.1:(\d+))\s*$", line)
            url = found and found.group(1)
        assert url, "".join(printed)
        assert "  You can now view your Streamlit app in your browser." in "".join(printed)
        assert int(url.rsplit(":", 1)[1]) >= 8501  # 8501, or the next free port where it was taken
        with urllib.request.urlopen(url + "/_stcore/health", timeout=30) as answer:
            assert answer.status == 200
        os.killpg(server.pid, signal.SIGINT)  # Ctrl+C in the terminal, as the README says to stop it
        server.wait(timeout=30)
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
