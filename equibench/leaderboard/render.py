"""Blocks to README.md (GitHub Markdown) and to index.html (a static page, plots beside it)."""

from __future__ import annotations

import html

from equibench.leaderboard.document import Block, Code, Heading, Image, Items, Para, Table

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1400px; padding: 0 1rem; color: #222; }
table { border-collapse: collapse; margin: 0.5rem 0 1.5rem; font-size: 0.9rem; }
th, td { border: 1px solid #ccc; padding: 0.3rem 0.6rem; text-align: left; }
th { background: #f0f0f0; }
tr:nth-child(even) td { background: #fafafa; }
pre { background: #f4f4f4; padding: 0.6rem; overflow-x: auto; }
img { max-width: 100%; border: 1px solid #eee; }
th { cursor: pointer; }
"""
SORT = """
// Click a column header to sort its table by that column (numbers by the mean before any ±).
document.querySelectorAll("table").forEach(table => {
  table.querySelectorAll("th").forEach((th, col) => {
    th.title = "click to sort";
    th.addEventListener("click", () => {
      const body = table.tBodies[0], rows = Array.from(body.rows);
      const key = r => { const t = r.cells[col].textContent.trim(), v = parseFloat(t); return isNaN(v) ? t : v; };
      const up = th.dataset.sorted !== "up";
      rows.sort((a, b) => { const x = key(a), y = key(b);
        const c = typeof x === typeof y ? (x < y ? -1 : x > y ? 1 : 0) : (typeof x === "number" ? -1 : 1);
        return up ? c : -c; });
      table.querySelectorAll("th").forEach(h => delete h.dataset.sorted);
      th.dataset.sorted = up ? "up" : "down";
      rows.forEach(r => body.appendChild(r));
    });
  });
});
"""


def to_markdown(blocks: list[Block]) -> str:
    out = []
    for b in blocks:
        match b:
            case Heading():
                out.append(f"{'#' * b.level} {b.text}")
            case Para():
                out.append(b.text)
            case Items():
                out.append("\n".join(f"- {line}" for line in b.lines))
            case Code():
                out.append(f"```\n{b.text}\n```")
            case Table():
                out.append(b.rendered)
            case Image():
                out.append(f"![{b.alt}]({b.src})")
    return "\n\n".join(out) + "\n"


def to_html(blocks: list[Block], title: str) -> str:
    out = []
    for b in blocks:
        match b:
            case Heading():
                out.append(f"<h{b.level}>{html.escape(b.text)}</h{b.level}>")
            case Para():
                out.append(f"<p>{html.escape(b.text)}</p>")
            case Items():
                out.append("<ul>" + "".join(f"<li>{html.escape(line)}</li>" for line in b.lines) + "</ul>")
            case Code():
                out.append(f"<pre><code>{html.escape(b.text)}</code></pre>")
            case Table():
                out.append(b.rendered)
            case Image():
                out.append(f'<p><img src="{html.escape(b.src)}" alt="{html.escape(b.alt)}"></p>')
    body = "\n".join(out)
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{html.escape(title)}</title>\n'
            f"<style>{STYLE}</style>\n</head>\n<body>\n{body}\n<script>{SORT}</script>\n</body>\n</html>\n")
