#!/bin/sh
# Plots the CSV files of dadmm-sweep in DIR as PNG figures (installs python3-matplotlib if missing).
#   deploy/plot-figures.sh results/seed1
set -eu
if [ $# -ne 1 ]; then
  echo "usage: $0 RESULTS_DIR" >&2
  exit 2
fi
if ! /usr/bin/python3 -c 'import matplotlib' 2>/dev/null; then
  echo "installing python3-matplotlib" >&2
  apt-get install -y -q python3-matplotlib >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q python3-matplotlib >/dev/null; }
fi
exec /usr/bin/python3 "$(dirname "$0")/plot-figures.py" "$1"
