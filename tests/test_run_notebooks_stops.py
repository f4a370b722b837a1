"""``run-notebooks`` when a notebook does not finish: a kernel that dies, a cell over the time
limit, Ctrl-C, SIGTERM. Each is one line naming the notebook and the cell and where what ran
was written, with the exit status a shell expects; real kernels, real signals."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from mnist_helpers.cli import main

REPO = Path(__file__).resolve().parent.parent
posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX signals")


def _notebook(path: Path, *cells: str) -> Path:
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells]),
                   path)
    return path


#: What jupyter_client prints when the random port it chose for a new kernel was just taken by
#: another process; it then picks another port and goes on (not ours to silence).
PORT_RETRY = "zmq.error.ZMQError: Address already in use"


def _one_line(err: str) -> str:
    lines = [line for line in err.splitlines()
             if line.strip() and not line.startswith(PORT_RETRY)]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    return lines[0]


@posix_only
def test_a_kernel_that_dies_is_one_line_and_the_partial_copy_is_kept(tmp_path, capsys):
    notebook = _notebook(tmp_path / "01_dies.ipynb", "print('before')",
                         "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)", "print(1)")
    out = tmp_path / "out"
    assert main(["run-notebooks", "--out", str(out), str(notebook)]) == 2
    line = _one_line(capsys.readouterr().err)
    assert "kernel died in cell 2 of 3" in line and str(out / "01_dies.ipynb") in line
    saved = nbformat.read(out / "01_dies.ipynb", as_version=4)
    assert saved.cells[0].outputs[0]["text"] == "before\n"


@posix_only
def test_what_a_dying_kernel_writes_to_its_error_stream_is_in_the_one_line(tmp_path, capfd):
    """A kernel's own error stream (a libzmq assertion as it is stopped, a crash message) once
    reached the terminal beside the one line; it is now kept, and a dead kernel's last words
    are in that line."""
    notebook = _notebook(tmp_path / "01_dies.ipynb", "print('before')",
                         "import os, signal\nos.write(2, b'native crash: bad pointer\\n')\n"
                         "os.kill(os.getpid(), signal.SIGKILL)")
    out = tmp_path / "out"
    assert main(["run-notebooks", "--out", str(out), str(notebook)]) == 2
    line = _one_line(capfd.readouterr().err)  # the file descriptor, not only sys.stderr
    assert "kernel died in cell 2 of 2" in line and "native crash: bad pointer" in line


def test_a_cell_over_the_time_limit_says_timed_out(tmp_path, capsys):
    notebook = _notebook(tmp_path / "02_slow.ipynb", "x = 1", "import time\ntime.sleep(60)")
    out = tmp_path / "out"
    assert main(["run-notebooks", "--timeout", "2", "--out", str(out), str(notebook)]) == 2
    line = _one_line(capsys.readouterr().err)
    assert "cell 2 of 2 ('import time') timed out" in line and "--timeout" in line
    assert (out / "02_slow.ipynb").is_file()


@posix_only
@pytest.mark.parametrize("signum, code, word", [(signal.SIGINT, 130, "interrupted"),
                                                (signal.SIGTERM, 143, "terminated")])
def test_ctrl_c_or_sigterm_is_one_line_with_the_usual_exit_status(tmp_path, signum, code, word):
    first = _notebook(tmp_path / "01_first.ipynb", "print('done')")
    started = tmp_path / "started"
    second = _notebook(tmp_path / "02_waits.ipynb", f"open({str(started)!r}, 'w').close()",
                       "import time\ntime.sleep(120)")
    out = tmp_path / "out"
    process = subprocess.Popen(
        [sys.executable, "-m", "mnist_helpers", "run-notebooks", "--out", str(out), str(first),
         str(second)], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "MNIST_WORKSPACE": str(tmp_path / "ws"), "PYTHONUNBUFFERED": "1"})
    assert process.stdout.readline().startswith("01_first.ipynb: ")
    for _ in range(600):  # until the second notebook's kernel runs its cells
        if started.exists():
            break
        time.sleep(0.1)
    time.sleep(0.5)
    process.send_signal(signum)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == code, (stdout, stderr)
    line = _one_line(stderr)
    assert f"02_waits.ipynb: {word}" in line and str(out / "02_waits.ipynb") in line
    assert (out / "01_first.ipynb").is_file() and (out / "02_waits.ipynb").is_file()


@posix_only
@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_stop_while_the_kernel_starts_is_one_line_too(tmp_path, signum, code):
    """A signal during the second or two a kernel takes to start used to end in a
    CancelledError or AssertionError traceback from deep inside nbclient."""
    notebook = _notebook(tmp_path / "01_waits.ipynb", "import time\ntime.sleep(60)")
    process = subprocess.Popen(
        [sys.executable, "-m", "mnist_helpers", "run-notebooks", "--out", str(tmp_path / "out"),
         str(notebook)], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env={**os.environ, "MNIST_WORKSPACE": str(tmp_path / "ws")})
    # Until the kernel process exists (it is starting). Only a child whose command line names
    # ipykernel counts: a library may run a helper program of its own while it is imported, and
    # a signal then would fall before the kernel starts. The deadline only stops a hang.
    deadline = time.monotonic() + 120
    while not subprocess.run(["pgrep", "-P", str(process.pid), "-f", "ipykernel"],
                             capture_output=True, text=True).stdout.split():
        assert process.poll() is None and time.monotonic() < deadline, "no kernel started"
        time.sleep(0.02)
    process.send_signal(signum)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == code, (stdout, stderr)
    assert "Traceback" not in stderr, stderr


def test_the_notebooks_own_folder_or_a_users_file_is_never_written_over(tmp_path, capsys):
    notebook = _notebook(tmp_path / "01_mine.ipynb", "print(1)")
    before = notebook.read_bytes()
    assert main(["run-notebooks", "--out", str(tmp_path), str(notebook)]) == 2
    assert "--in-place" in capsys.readouterr().err and notebook.read_bytes() == before
    out = tmp_path / "out"
    out.mkdir()
    (out / "01_mine.ipynb").write_text('{"mine": true}')
    assert main(["run-notebooks", "--out", str(out), str(notebook)]) == 2
    assert "is not a notebook" in capsys.readouterr().err
    assert (out / "01_mine.ipynb").read_text() == '{"mine": true}'


@pytest.mark.parametrize("value", ["0", "-1"])
def test_a_timeout_below_one_second_is_refused(tmp_path, capsys, value):
    notebook = _notebook(tmp_path / "01_x.ipynb", "print(1)")
    assert main(["run-notebooks", "--timeout", value, "--out", str(tmp_path / "o"),
                 str(notebook)]) == 2
    assert "--timeout" in capsys.readouterr().err
