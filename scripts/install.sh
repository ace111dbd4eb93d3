#!/usr/bin/env bash
# Install equibench, its plugins and its test tools into ./.venv (Python 3.11).
#
# escnn needs py3nj, which compiles Fortran: on Debian/Ubuntu this installs gfortran with apt
# (as root, or through sudo). Elsewhere, install a Fortran compiler first (macOS: brew install gcc;
# Fedora: dnf install gcc-gfortran; conda: conda install -c conda-forge gfortran).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v gfortran >/dev/null 2>&1; then
    if command -v apt-get >/dev/null 2>&1; then
        sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq gfortran >/dev/null
    else
        echo "install.sh: escnn's dependency py3nj needs a Fortran compiler (gfortran); install one and re-run" >&2
        exit 1
    fi
fi

python=${PYTHON:-python3.11}
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/pip install --quiet --upgrade pip
.venv/bin/pip install --quiet torch==2.14.1 torchvision==0.29.1
.venv/bin/pip install --quiet -e ".[test,ray,pandas]"  # Ray and pandas: optional extras, tested too
