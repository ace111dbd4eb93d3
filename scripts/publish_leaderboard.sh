#!/usr/bin/env bash
# Regenerate the published leaderboard (docs/leaderboard.md): run, or resume, the sweep into
# leaderboard/records/, then build leaderboard/README.md, leaderboard.json, index.html and plots/
# from those records alone. Cells whose record exists are skipped, so rerunning after an
# interruption finishes the rest; a failing cell stops the publish (fix it, rerun).
#
#   bash scripts/publish_leaderboard.sh --jobs 2        # from the repository root; extra args go to sweep
set -euo pipefail
cd "$(dirname "$0")/.."
equibench=${EQUIBENCH:-.venv/bin/equibench}

"$equibench" sweep --models tvae,vae,gcnn,pixels,pca,random-mlp \
    --datasets digits-rot18,digits-rot4,digits-hue18,digits-scale18,digits-shift7,digits-rothue18 \
    --seeds 0,1,2 --profile quick --out leaderboard/records "$@"
# a view dataset with its out-of-distribution split (the tvae needs a cyclic order: not run there)
"$equibench" sweep --models gcnn,pixels,pca,random-mlp,sie,vicreg --datasets digits-so2-views-ood \
    --seeds 0,1,2 --profile quick --out leaderboard/records "$@"
# rendered 3D objects under SO(3) (the 3DIEBench protocol)
"$equibench" sweep --models pixels,pca,random-mlp,sie,vicreg --datasets shapes3d-euler-views-ood \
    --seeds 0,1,2 --profile quick --out leaderboard/records "$@"
"$equibench" leaderboard --results leaderboard/records --out leaderboard
