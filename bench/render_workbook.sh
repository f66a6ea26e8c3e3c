#!/usr/bin/env bash
# Render a review workbook the way a reviewer would see it: LibreOffice (headless) prints
# it to PDF, pdftoppm turns the first page of each sheet into a PNG to look at.
#   bash bench/render_workbook.sh FILE.xlsx [OUT_DIR]
# Needs: apt-get install libreoffice-calc poppler-utils
set -euo pipefail
workbook=${1:?usage: render_workbook.sh FILE.xlsx [OUT_DIR]}
out=${2:-render}
command -v soffice >/dev/null || { echo "error: soffice not found: apt-get install libreoffice-calc" >&2; exit 1; }
command -v pdftoppm >/dev/null || { echo "error: pdftoppm not found: apt-get install poppler-utils" >&2; exit 1; }
mkdir -p "$out"
soffice --headless --convert-to pdf --outdir "$out" "$workbook" >/dev/null
pdf="$out/$(basename "${workbook%.*}").pdf"
pdftoppm -png -r 110 -f 1 -l 1 "$pdf" "$out/review-page"
echo "rendered $(pdfinfo "$pdf" | awk '/^Pages/ {print $2}') pages to $pdf; first page: $(ls "$out"/review-page-*.png | head -n 1)"
