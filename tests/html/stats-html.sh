#!/usr/bin/env bash
# `backstop stats --html` in a real browser: the generated month of runs
# (host/tests/stats_trends.rs) is written to a state database and rendered
# as a page, which headless Chromium (Debian's package) then screenshots and
# serialises. Checks: the screenshot is a PNG of the window's size that is not
# blank, and the DOM Chromium built holds the charts (one SVG per trend, a bar
# or point per bucket) and the same figures as `backstop stats --json`.
# Installs chromium and python3-pil with apt-get when missing. Called by
# tests/run-rust.sh after the cargo tests (so the build is warm); ~10 s.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"

need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
# Debian's python3 (its python3-pil), whatever python3 is first on the PATH.
py=/usr/bin/python3
[ -x "$py" ] && "$py" -c 'import PIL' >/dev/null 2>&1 || need+=(python3 python3-pil)
if [ "${#need[@]}" -gt 0 ]; then
    echo "stats-html.sh: installing ${need[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${need[@]}" >/dev/null
fi

dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
STATS_HTML_DIR="$dir" cargo test --workspace --locked -q --test stats_trends \
    a_generated_month_gives_the_hand_computed_weekly_figures >/dev/null

width=1200
height=1600
# --no-sandbox: CI containers run as root, where Chromium's sandbox refuses to start.
chromium=(chromium --headless --no-sandbox --disable-gpu --hide-scrollbars
    --no-first-run --user-data-dir="$dir/profile" --window-size="$width,$height")
timeout 120 "${chromium[@]}" --screenshot="$dir/shot.png" "file://$dir/month.html" \
    >"$dir/chromium.log" 2>&1 || { cat "$dir/chromium.log" >&2; exit 1; }
timeout 120 "${chromium[@]}" --dump-dom "file://$dir/month.html" \
    >"$dir/dom.html" 2>"$dir/chromium.log" || { cat "$dir/chromium.log" >&2; exit 1; }

"$py" - "$dir" "$width" "$height" <<'EOF'
import json
import sys
from html.parser import HTMLParser

from PIL import Image

directory, width, height = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])

# The screenshot: a PNG of the window's size, and not blank (the charts'
# colours are in it, on more than a sliver of the page).
shot = Image.open(f"{directory}/shot.png")
assert shot.format == "PNG", shot.format
assert shot.size == (width, height), f"screenshot is {shot.size}, window {width}x{height}"
rgb = shot.convert("RGB")
colours = rgb.getcolors(maxcolors=1 << 20) or []
assert len(colours) > 20, f"only {len(colours)} colours: blank page?"
white = sum(n for n, c in colours if c == (255, 255, 255))
assert white < 0.97 * width * height, f"{white} of {width * height} pixels are white"
blue = sum(n for n, c in colours if c == (0x2B, 0x6C, 0xB0))
assert blue > 2000, f"{blue} pixels of the bar colour: no charts drawn?"


class Dom(HTMLParser):
    """The elements the checks need, from the DOM Chromium serialised."""

    def __init__(self):
        super().__init__()
        self.sections = []  # (pipeline, step, charts, marks, rows)
        self.cell = None
        self.row = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        classes = (a.get("class") or "").split()
        if tag == "section" and "group" in classes:
            self.sections.append(
                {"pipeline": a["data-pipeline"], "step": a["data-step"], "charts": {}, "rows": {}}
            )
        elif tag == "svg" and "chart" in classes:
            self.chart = self.sections[-1]["charts"].setdefault(a["data-metric"], [])
        elif tag in ("rect", "circle") and ("bar" in classes or "point" in classes):
            self.chart.append((a["data-series"], a["data-bucket"], float(a["data-value"])))
        elif tag == "tr" and "data-bucket" in a:
            self.row = self.sections[-1]["rows"].setdefault(a["data-bucket"], {})
        elif tag == "td" and self.row is not None:
            self.cell = a["data-field"]
            self.row[self.cell] = ""

    def handle_endtag(self, tag):
        if tag == "td":
            self.cell = None
        elif tag == "tr":
            self.row = None

    def handle_data(self, data):
        if self.cell is not None:
            self.row[self.cell] += data


dom = Dom()
dom.feed(open(f"{directory}/dom.html", encoding="utf-8").read())
report = json.load(open(f"{directory}/month.json", encoding="utf-8"))
assert [(s["pipeline"], s["step"]) for s in dom.sections] == [
    (g["pipeline"], g["step"]) for g in report["groups"]
], "one section per pipeline and step"
checked = 0
for section, group in zip(dom.sections, report["groups"]):
    assert sorted(section["charts"]) == [
        "notifications", "retries-per-run", "success-rate", "time-to-recovery",
    ], section["charts"].keys()
    for bucket in group["buckets"]:
        import datetime

        day = datetime.datetime.fromtimestamp(bucket["start_ms"] / 1000, datetime.UTC)
        label = day.strftime("%Y-%m-%d")
        row = section["rows"][label]
        assert row["runs"] == str(bucket["runs"]), (label, row)
        rate = bucket["success_rate"]
        assert row["success-rate"] == ("-" if rate is None else f"{rate * 100:.1f}%"), (label, row)
        assert row["pages"] == str(bucket["pages"]) and row["infos"] == str(bucket["infos"])
        # The chart marks carry the same numbers.
        bars = {b: v for s, b, v in section["charts"]["success-rate"]}
        if rate is not None:
            assert abs(bars[label] - rate) < 1e-9, (label, bars)
        pages = {b: v for s, b, v in section["charts"]["notifications"] if s == "pages"}
        assert pages[label] == bucket["pages"], (label, pages)
        ttr = {b: v for s, b, v in section["charts"]["time-to-recovery"] if s == "p95"}
        if bucket["ttr_p95_ms"] is not None:
            assert ttr[label] == bucket["ttr_p95_ms"], (label, ttr)
        checked += 1
    assert "total" in section["rows"]
assert checked == 8, checked
print(f"stats-html.sh: chromium rendered {len(colours)} colours; DOM charts and {checked} buckets match --json")
EOF
