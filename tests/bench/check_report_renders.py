#!/usr/bin/env python3
"""Checks that a camera-bench HTML report renders in a real browser.

    check_report_renders.py REPORT.html [--chromium PATH] [--keep-png FILE]

Runs Debian's headless chromium on the report twice, offline and with a
throw-away profile: once for a screenshot (1280x4000), once for the DOM
after rendering. Then checks that

  (a) the screenshot is not blank: the PNG is decoded here (zlib and PNG
      row filters, stdlib only) and must show enough distinct colours,
      enough non-background pixels and, when the page has charts, coloured
      chart marks;
  (b) the DOM holds every chart figure (chart-throughput, chart-latency,
      chart-connections, chart-server, chart-reconnects,
      chart-latency-histogram; none expected on a comparison, which has
      table-compare instead), each with an <svg> holding at least one data
      mark: a <path>, <polyline> or <rect> of class "data" (what
      bench/report/svg_chart.h draws for values; frames and legends are
      not data);
  (c) the DOM holds the parameters table (table-parameters) with a row.

Prints one summary line. Exit status: 0 passed, 1 failed (the line says
why), 77 skipped (no chromium), 2 usage.
"""

import argparse
import collections
import html.parser
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import zlib

CHART_IDS = (
    "chart-throughput",
    "chart-latency",
    "chart-connections",
    "chart-server",
    "chart-reconnects",
    "chart-latency-histogram",
)
DATA_MARK_TAGS = ("path", "polyline", "rect")
TIMEOUT_S = 60
EXIT_SKIPPED = 77


class CheckFailed(Exception):
    pass


# ---------------------------------------------------------------- chromium


def chromium_command(chromium, profile_dir, report_path, extra):
    # No network, no first-run work, no background updates: the report must
    # render from the file alone, and the check must not leave the machine.
    return [
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        "--window-size=1280,4000",
        "--user-data-dir=" + profile_dir,
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-default-apps",
        "--disable-sync",
        "--disable-extensions",
        "--metrics-recording-only",
        "--proxy-server=127.0.0.1:9",
        "--proxy-bypass-list=<-loopback>",
    ] + extra + ["file://" + os.path.abspath(report_path)]


def run_chromium(command):
    """Runs chromium in its own process group, so that on a timeout (or once
    it is done) every helper process it started is ended with it."""
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
    )
    try:
        out, err = proc.communicate(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise CheckFailed("chromium did not finish within %d s: %s" % (TIMEOUT_S, " ".join(command[-2:])))
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    if proc.returncode != 0:
        tail = err.decode("utf-8", "replace").strip().splitlines()[-3:]
        raise CheckFailed("chromium exited with %d: %s" % (proc.returncode, " | ".join(tail)))
    return out


# ---------------------------------------------------------------- PNG


def paeth(a, b, c):
    p = a + b - c
    pa = abs(p - a)
    pb = abs(p - b)
    pc = abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    if pb <= pc:
        return b
    return c


def unfilter_row(kind, row, prior, bpp):
    """Reverses one scanline's filter (PNG spec, section 9). `row` is the
    filtered bytes without the type byte; `prior` the previous row
    reconstructed (zeros for the first row)."""
    if kind == 0:
        return bytearray(row)
    n = len(row)
    out = bytearray(row)
    if kind == 1:  # Sub
        for i in range(bpp, n):
            out[i] = (out[i] + out[i - bpp]) & 0xFF
    elif kind == 2:  # Up
        if any(prior):
            for i in range(n):
                out[i] = (out[i] + prior[i]) & 0xFF
    elif kind == 3:  # Average
        for i in range(n):
            left = out[i - bpp] if i >= bpp else 0
            out[i] = (out[i] + ((left + prior[i]) >> 1)) & 0xFF
    elif kind == 4:  # Paeth
        for i in range(n):
            if i >= bpp:
                a = out[i - bpp]
                c = prior[i - bpp]
            else:
                a = c = 0
            b = prior[i]
            out[i] = (out[i] + paeth(a, b, c)) & 0xFF
    else:
        raise CheckFailed("PNG row filter type %d is not one of 0-4" % kind)
    return out


def decode_png(data):
    """Returns (width, height, channels, rows) for an 8-bit RGB or RGBA,
    non-interlaced PNG; rows are bytearrays of width * channels bytes."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise CheckFailed("screenshot is not a PNG")
    pos = 8
    header = None
    idat = []
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    if header is None:
        raise CheckFailed("PNG has no IHDR")
    width, height, depth, colour_type, _, _, interlace = header
    if depth != 8 or colour_type not in (2, 6) or interlace != 0:
        raise CheckFailed(
            "PNG is depth %d colour type %d interlace %d; only 8-bit RGB/RGBA, non-interlaced, is read"
            % (depth, colour_type, interlace)
        )
    channels = 3 if colour_type == 2 else 4
    stride = width * channels
    raw = zlib.decompress(b"".join(idat))
    if len(raw) < height * (stride + 1):
        raise CheckFailed("PNG image data is short: %d bytes for %dx%d" % (len(raw), width, height))
    rows = []
    prior = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        prior = unfilter_row(raw[start], raw[start + 1 : start + 1 + stride], prior, channels)
        rows.append(prior)
    return width, height, channels, rows


def check_screenshot(png_path, expect_charts):
    if not os.path.exists(png_path) or os.path.getsize(png_path) == 0:
        raise CheckFailed("chromium wrote no screenshot")
    with open(png_path, "rb") as f:
        width, height, channels, rows = decode_png(f.read())
    colours = collections.Counter()
    for row in rows:
        # RGB only: alpha is opaque in a screenshot.
        colours.update(bytes(row[i : i + 3]) for i in range(0, len(row), channels))
    background, background_count = colours.most_common(1)[0]
    total = width * height
    foreground = total - background_count
    # Chart marks are saturated colours (the Okabe-Ito palette); text,
    # frames and grid lines are grey.
    saturated = sum(count for rgb, count in colours.items() if max(rgb) - min(rgb) >= 60)
    if len(colours) < 16:
        raise CheckFailed("screenshot has %d distinct colours: blank or nearly" % len(colours))
    if foreground < max(10000, total // 500):
        raise CheckFailed("screenshot has %d non-background pixels of %d: blank or nearly" % (foreground, total))
    if expect_charts and saturated < 2000:
        raise CheckFailed("screenshot has %d coloured pixels: the charts' lines and bars did not render" % saturated)
    return "%dx%d png, %d colours, %.1f%% non-background, %d chart-coloured px" % (
        width,
        height,
        len(colours),
        100.0 * foreground / total,
        saturated,
    )


# ---------------------------------------------------------------- DOM


class ReportDom(html.parser.HTMLParser):
    """Collects, for every element with an id, the data marks inside <svg>
    elements below it and the rows with cells below it."""

    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack = []  # (tag, id or None)
        self.svg_depth = 0
        self.ids = {}  # id -> {"svgs": n, "marks": n, "rows": n, "tag": tag}

    def _owners(self):
        return [element_id for _, element_id in self.stack if element_id is not None]

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        element_id = attrs.get("id")
        if element_id is not None:
            self.ids[element_id] = {"tag": tag, "svgs": 0, "marks": 0, "rows": 0, "no_data": 0}
        owners = self._owners() + ([element_id] if element_id else [])
        if "no-data" in (attrs.get("class") or "").split():
            for owner in owners:
                self.ids[owner]["no_data"] += 1
        if tag == "svg":
            self.svg_depth += 1
            for owner in owners:
                self.ids[owner]["svgs"] += 1
        elif self.svg_depth > 0 and tag in DATA_MARK_TAGS and "data" in (attrs.get("class") or "").split():
            for owner in owners:
                self.ids[owner]["marks"] += 1
        elif tag == "td":
            for owner in owners:
                self.ids[owner]["rows"] += 1
        if tag not in self.VOID:
            self.stack.append((tag, element_id))

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in self.VOID:
            self.handle_endtag(tag)

    def handle_endtag(self, tag):
        # Pop to the matching element (the serialised DOM is well formed;
        # this only guards against surprises).
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                del self.stack[i:]
                break
        if tag == "svg" and self.svg_depth > 0:
            self.svg_depth -= 1


def check_dom(dom_text):
    parser = ReportDom()
    parser.feed(dom_text)
    parser.close()
    ids = parser.ids
    compare = "table-compare" in ids
    expected = () if compare else CHART_IDS
    problems = []
    for chart_id in expected:
        element = ids.get(chart_id)
        if element is None:
            problems.append("%s missing" % chart_id)
        elif element["svgs"] == 0:
            problems.append("%s has no <svg>" % chart_id)
        elif element["marks"] == 0 and element["no_data"] == 0:
            # A chart may be empty only if it says so (an idle run has no ACK latencies).
            problems.append("%s has no data mark and no 'no data' note" % chart_id)
    if expected and not problems and sum(ids[chart_id]["marks"] for chart_id in expected) == 0:
        problems.append("no chart has a data mark")
    parameters = ids.get("table-parameters")
    if parameters is None or parameters["tag"] != "table":
        problems.append("table-parameters missing")
    elif parameters["rows"] == 0:
        problems.append("table-parameters has no rows")
    if problems:
        raise CheckFailed("DOM: " + "; ".join(problems))
    marks = sum(ids[chart_id]["marks"] for chart_id in expected)
    return (not compare), "%d charts with %d data marks, parameters table with %d cells" % (
        len(expected),
        marks,
        parameters["rows"],
    )


# ---------------------------------------------------------------- main


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("report", help="the HTML report to check")
    parser.add_argument("--chromium", help="the chromium binary (default: chromium on PATH)")
    parser.add_argument("--keep-png", help="also copy the screenshot here")
    args = parser.parse_args()

    name = os.path.basename(args.report)
    if not os.path.isfile(args.report):
        print("check_report_renders: FAIL %s: no such file" % name)
        return 1
    chromium = args.chromium or shutil.which("chromium")
    if chromium is None or not os.access(chromium, os.X_OK):
        print("check_report_renders: SKIP %s: no chromium (install Debian's chromium or pass --chromium)" % name)
        return EXIT_SKIPPED

    try:
        with tempfile.TemporaryDirectory(prefix="check-report-") as tmp:
            png = os.path.join(tmp, "report.png")
            run_chromium(chromium_command(chromium, os.path.join(tmp, "shot-profile"), args.report,
                                          ["--screenshot=" + png]))
            dom = run_chromium(chromium_command(chromium, os.path.join(tmp, "dom-profile"), args.report,
                                                ["--dump-dom"]))
            expect_charts, dom_summary = check_dom(dom.decode("utf-8", "replace"))
            if args.keep_png and os.path.exists(png):
                shutil.copyfile(png, args.keep_png)
            pixels_summary = check_screenshot(png, expect_charts)
    except CheckFailed as failure:
        print("check_report_renders: FAIL %s: %s" % (name, failure))
        return 1
    print("check_report_renders: OK %s: %s; %s" % (name, dom_summary, pixels_summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
