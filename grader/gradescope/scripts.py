"""The two scripts Gradescope runs from the autograder zip.

`setup.sh` runs once, as root, when Gradescope builds the image: it finds (or
installs) Python 3.11 or later and installs NumPy, SciPy and Jinja2 into a
virtual environment. `run_autograder` runs for each submission; its paths
and interpreter can be overridden (AUTOGRADER_ROOT, AUTOGRADER_PYTHON) so it
can be tried outside Gradescope in a folder laid out like `/autograder`.
"""

from __future__ import annotations

SETUP_SH = """\
#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image.
set -euo pipefail
cd /autograder/source
python=""
for candidate in python3.13 python3.12 python3.11 python3; do
  if command -v "$candidate" >/dev/null &&
     "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    python="$candidate"
    break
  fi
done
if [ -z "$python" ]; then
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y python3.11 python3.11-venv
  python=python3.11
fi
if ! "$python" -m venv /autograder/venv; then
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y "$(basename "$python")-venv"
  "$python" -m venv /autograder/venv
fi
/autograder/venv/bin/pip install --upgrade pip
/autograder/venv/bin/pip install -r /autograder/source/requirements.txt
chmod +x /autograder/source/run_autograder
"""

RUN_AUTOGRADER = """\
#!/usr/bin/env bash
# Gradescope runs this for each submission: it grades /autograder/submission
# and always writes /autograder/results/results.json.
root="${AUTOGRADER_ROOT:-/autograder}"
python="${AUTOGRADER_PYTHON:-$root/venv/bin/python}"
cd "$root/source" || exit 1
exec "$python" -m grader.gradescope.run --root "$root"
"""
