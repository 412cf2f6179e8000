"""Sphinx configuration for paperfeed's documentation (Markdown pages through MyST).

Build: `sphinx-build -W --keep-going -n -b html docs docs/_build/html` (CI runs it in
.ci/run; a warning, such as a broken link, fails the build).
"""

from __future__ import annotations

from paperfeed import __version__

project = "paperfeed"
author = "paperfeed contributors"
copyright = "paperfeed contributors"
release = version = __version__

extensions = ["myst_parser", "sphinx_click"]
source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build"]

# Links between pages are plain Markdown (`[Mail](configuration.md#mail)`), so the same
# sources read well on GitHub; headings get GitHub-style anchors.
myst_heading_anchors = 4
myst_enable_extensions = ["colon_fence"]

html_theme = "furo"
html_title = "paperfeed"
html_static_path: list[str] = []
pygments_style = "friendly"
