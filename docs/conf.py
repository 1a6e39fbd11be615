"""Sphinx configuration of the fairrec API reference site.

Build (from the repository root; the HTML lands in ``docs/_build/html/index.html``)::

    pip install -e ".[docs]"
    python -m sphinx -n -W --keep-going -b html docs docs/_build/html

``-n`` (nitpicky) reports every cross-reference that does not resolve and ``-W`` turns every
warning into an error, so a broken reference fails the build (``tests/test_docs.py`` shows it).
That check, which also covers references inside docstrings and annotations, is why the site
uses Sphinx (autodoc + napoleon for the numpy-style docstrings, MyST for Markdown pages)
rather than MkDocs.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

import fairrec  # noqa: E402

project = "fairrec"
author = "the fairrec authors"
copyright = "the fairrec authors, Apache-2.0"
release = fairrec.__version__  # the single source of the version
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "myst_parser",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "_generated", "api/_toplevel.rst", "api/_modules.rst"]
# docs/api/<module>.rst, internals.rst, _toplevel.rst and _modules.rst are written by this file at build time
# (_write_api_pages); docs/api/index.rst and internals.txt (the intro) are kept in git.
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3

# ------------------------------------------------------------------ the API pages (autodoc)
# Public modules documented in docs/api/ (one page each). ``check_public_names`` below fails
# the build if a public module or a name of any ``__all__`` is missing from the pages.
PUBLIC_MODULES = {
    "data": "datasets and validation",
    "data.ids": "canonical ids and the id map",
    "datasets": "built-in datasets",
    "consent": "the consent ledger",
    "consent.purposes": "consent purposes",
    "consent.keys": "secret keys and keyed hashes",
    "audit": "the audit log",
    "models": "candidate models",
    "rerank": "re-rankers",
    "rows": "row kinds",
    "recommender": "the recommender",
    "live_api": "live serving methods of the recommender",
    "live": "live serving: observed events, cold-start titles",
    "availability": "availability windows and regions",
    "serving": "the serving stage: the fitted state",
    "page": "home page objects",
    "metrics": "metrics",
    "evaluation": "evaluation and splits",
    "tuning": "hyper-parameter tuning",
    "errors": "errors",
    "plot": "plots (fairrec[plot])",
    "spark": "Spark (fairrec[spark])",
    "cli": "the fairrec command",
}
# Members are the names of each module's ``__all__`` (autodoc's default). Constants such as
# ``PURPOSES = (...)`` report their type's ``__module__`` ("builtins") and autodoc would drop
# them as imported: the generated pages list them with ``autodata`` (``_write_api_pages``).
# Internal modules: importable, documented on api/internals so that pages can link to them,
# no stability promise.
INTERNAL_MODULES = [
    "serving.host",
    "serving.gate",
    "serving.training",
    "serving.core",
    "serving.fit",
    "serving.assembly",
    "serving.pages",
    "serving.flat",
    "serving.explain",
    "serving.erasure",
    "serving.persist",
    "serving.load",
    "serving.model_files",
    "serving.cold",
    "rows.evidence",
    "verify_taste",
    "vocab",
]
# Modules whose public names another module re-exports (documented there): the
# implementation modules of a public module, and the deprecated aliases of moved modules.
REEXPORTED_MODULES = {
    "splits": "evaluation",
    "verify": "audit",
    "serving.state": "serving",
    "serving.live": "live",
    "serving.observed": "live",
    "serving.live_api": "live_api",
    "serving.availability": "availability",
    "gate": "serving.gate",
    "assembly": "serving.assembly",
    "persist": "serving.persist",
    "live_rows": "rows",  # deprecated alias (issue 17)
    "evidence": "rows.evidence",  # deprecated alias (issue 17)
    "ids": "data.ids",  # deprecated alias (issue 17)
}
# Public classes assembled from private base classes, one per job (``ConsentLedger``: its
# reads and its store synchronisation live in ``fairrec.consent._reads`` / ``_core``): their
# pages list the inherited public members too, and the private bases are not shown.
INHERITED_MEMBERS = {"consent": ["ConsentLedger"]}
autodoc_default_options = {"members": True, "undoc-members": True, "show-inheritance": True}
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
# The extras' packages are mocked so that the site builds from the ``docs`` extra alone.
autodoc_mock_imports = ["pyspark", "pyarrow", "matplotlib"]
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_preprocess_types = False  # numpydoc types here are prose ("ndarray, shape (n,)")
napoleon_use_param = False  # ... so they are shown as text, not cross-referenced
napoleon_use_rtype = False
napoleon_use_ivar = True  # dataclass "Attributes" sections do not duplicate autodoc's members
# Docstrings name fairrec's classes by their short names in numpydoc type fields.
napoleon_type_aliases = {
    name: f":class:`~fairrec.{module}.{name}`"
    for name, module in {
        "Dataset": "data",
        "ConsentLedger": "consent",
        "ConsentState": "consent",
        "AuditLog": "audit",
        "Recommender": "recommender",
        "DataUseReport": "recommender",
        "HomePage": "page",
        "Row": "page",
        "Item": "page",
        "Reason": "page",
        "CandidateModel": "models",
        "Reranker": "rerank",
        "RerankContext": "rerank",
        "RowKind": "rows",
        "RowContext": "rows",
        "RowBatch": "rows",
        "Split": "evaluation",
        "MetricSpec": "metrics",
    }.items()
}

# ----------------------------------------------------------------- broken references
nitpicky = True
# Names that no inventory of this build can resolve. The build runs offline (CI reaches only
# package registries), so intersphinx cannot fetch the inventories of Python, numpy, pandas
# or scipy: references into those projects are ignored by module prefix, and nothing else.
# Every fairrec name must resolve.
nitpick_ignore_regex = [
    # external libraries: standard library, numpy, pandas, scipy, implicit, pyspark, matplotlib
    (r"py:.*", r"(abc|collections\.abc|typing|datetime|json|os|pathlib|threading|warnings)\..+"),
    (r"py:.*", r"(numpy|np|pandas|pd|scipy|sp|implicit|pyspark|matplotlib|pyarrow)(\..+)?"),
    # private helpers (a name or module starting with "_") named in a public signature or as
    # a base class: private by design, so not on the site
    (r"py:.*", r"fairrec(\.\w+)*\._\w+(\.\w+)*"),
    (r"py:.*", r"(\w+\.)*_\w+"),  # the same, named relative to its class or module
    # fitted attributes (scikit-learn's trailing underscore, e.g. ``user_factors_``) exist
    # only after ``fit``; their class docstrings describe them, autodoc cannot list them
    (r"py:attr", r"(\w+\.)*\w+_"),
    # builtins and constants written in numpydoc type fields
    (r"py:(class|obj|data)", r"(None|True|False|Ellipsis|NotImplemented|Any)"),
    # numpydoc's plain-language types (a description, not a Python object)
    (
        r"py:class",
        r"(array-like|datetime-like|path-like|callable|sequence|iterable|mapping"
        r"|ids|scalar|optional|default .*)",
    ),
]

html_theme = "alabaster"
html_title = f"fairrec {release}"
html_static_path: list[str] = []


def _public_objects() -> dict[str, object]:
    """Show each public name under its public module, not the private file defining it."""
    names: dict[str, object] = {}
    for short in PUBLIC_MODULES:
        module = importlib.import_module(f"fairrec.{short}")
        for name in getattr(module, "__all__", []):
            obj = getattr(module, name)
            names[f"{module.__name__}.{name}"] = obj
            owner = getattr(obj, "__module__", None)
            if owner and owner.startswith(module.__name__ + "._") and hasattr(obj, "__qualname__"):
                try:
                    obj.__module__ = module.__name__
                except (AttributeError, TypeError):
                    pass
    return names


def _module_section(short: str, underline: str) -> str:
    """``automodule`` for a module's ``__all__``, plus directives for what autodoc skips."""
    module = importlib.import_module(f"fairrec.{short}")
    names = list(getattr(module, "__all__", []))
    constants = [
        n
        for n in names
        if not callable(getattr(module, n)) and not hasattr(getattr(module, n), "__file__")
    ]
    # names served by the module's ``__getattr__`` (loaded lazily): autodoc does not see them
    # as members, so they get their own directive
    lazy = [n for n in names if n not in vars(module)]
    inherited = INHERITED_MEMBERS.get(short, [])
    text = f".. automodule:: fairrec.{short}\n"
    if constants or lazy or inherited:
        text += f"   :exclude-members: {', '.join(constants + lazy + inherited)}\n"
    text += "\n"
    for n in inherited:
        text += f".. autoclass:: fairrec.{short}.{n}\n   :inherited-members:\n\n"
    for n in lazy:
        kind = "autoclass" if isinstance(getattr(module, n), type) else "autofunction"
        text += f".. {kind}:: fairrec.{short}.{n}\n\n"
    if constants:
        text += f"Constants\n{underline * 9}\n\n"
        text += "".join(f".. autodata:: fairrec.{short}.{n}\n\n" for n in constants)
    return text


def _write_api_pages(app: object) -> None:
    """One page per public module, and the page of internal modules. Written only when the
    text changes (no rebuild loop)."""
    for short, title in PUBLIC_MODULES.items():
        head = f"``fairrec.{short}``: {title}"
        text = f"{head}\n{'=' * len(head)}\n\n" + _module_section(short, "-")
        _write_if_changed(HERE / "api" / f"{short}.rst", text)
    toc = ".. toctree::\n   :maxdepth: 1\n\n" + "".join(f"   {m}\n" for m in PUBLIC_MODULES)
    _write_if_changed(HERE / "api" / "_modules.rst", toc + "   internals\n")
    text = (HERE / "api" / "internals.txt").read_text(encoding="utf-8")
    for short in INTERNAL_MODULES:
        head = f"``fairrec.{short}``"
        text += f"\n{head}\n{'-' * len(head)}\n\n" + _module_section(short, "~")
    for short, public in REEXPORTED_MODULES.items():
        head = f"``fairrec.{short}``"
        text += (
            f"\n{head}\n{'-' * len(head)}\n\n.. automodule:: fairrec.{short}\n"
            f"   :no-members:\n\nIts public names are re-exported and documented in "
            f":mod:`fairrec.{public}`.\n"
        )
    _write_if_changed(HERE / "api" / "internals.rst", text)


def _write_if_changed(path: Path, text: str) -> None:
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def _write_toplevel(app: object) -> None:
    """``docs/api/_toplevel.rst``: the table of ``fairrec.__all__``, made from the package."""
    lines = [".. list-table::", "   :header-rows: 1", "", "   * - name", "     - defined in"]
    for name in sorted(fairrec._LAZY):
        module, attr = fairrec._LAZY[name]
        role = "class" if isinstance(getattr(fairrec, name), type) else "func"
        lines += [f"   * - :{role}:`fr.{name} <{module}.{attr}>`", f"     - :mod:`{module}`"]
    public = sorted(m for m in fairrec.__all__ if m in fairrec._SUBMODULES)
    lines += [
        "   * - " + ", ".join(f":mod:`fr.{m} <fairrec.{m}>`" for m in public),
        "     - the public modules (below)",
        "   * - ``fr.__version__``",
        f"     - the package version ({release}), the single source of the distribution's version",
    ]
    (HERE / "api" / "_toplevel.rst").write_text("\n".join(lines) + "\n", encoding="utf-8")


def check_public_names(app: object, env: object) -> None:
    """Fail (a warning under ``-W``) when a public module or name is not on the site."""
    from sphinx.util import logging

    log = logging.getLogger("fairrec.docs")
    objects = env.get_domain("py").objects  # type: ignore[attr-defined]
    wanted = {f"fairrec.{m}" for m in PUBLIC_MODULES}
    wanted |= {f"fairrec.{m}" for m in fairrec._SUBMODULES}  # type: ignore[attr-defined]
    wanted |= {".".join(v) for v in fairrec._LAZY.values()}  # type: ignore[attr-defined]
    wanted |= set(_PUBLIC)
    for name in sorted(wanted - set(objects)):
        log.warning("public name %s is not documented in docs/api/", name)


_PUBLIC = _public_objects()


def _internal_objects() -> dict[str, object]:
    """The names documented on the internal modules' page (their ``__all__``)."""
    names: dict[str, object] = {}
    for short in INTERNAL_MODULES:
        module = importlib.import_module(f"fairrec.{short}")
        for name in getattr(module, "__all__", []):
            names[f"{module.__name__}.{name}"] = getattr(module, name)
    return names


_INTERNAL = _internal_objects()
_INTERNAL_BY_NAME: dict[str, list[str]] = {}
for _qual in _INTERNAL:
    _INTERNAL_BY_NAME.setdefault(_qual.rsplit(".", 1)[1], []).append(_qual)


_SHORT = {name: role.split("`")[1].lstrip("~") for name, role in napoleon_type_aliases.items()}
_ORIGINAL: dict[str, list[str]] = {}
#: "module.Class.attribute" -> "module.Class" for the attributes that class docstrings list in
#: their numpydoc "Attributes" section (shown as fields of the class, not as objects)
_IVARS: dict[str, str] = {}
_UNIQUE: dict[str, list[str]] = {}
for _qual in _PUBLIC:
    _UNIQUE.setdefault(_qual.rsplit(".", 1)[1], []).append(_qual)


def resolve_aliases(app: Any, env: Any, node: Any, contnode: Any) -> Any:
    """Resolve the public aliases docstrings use: ``fairrec.Recommender`` (the lazy top-level
    name) and short class names such as ``HomePage.to_frame``. Anything else stays broken."""
    if node.get("refdomain") != "py":
        return None
    target = node["reftarget"]
    if node.get("reftype") == "attr":
        owner = _ivar_owner(target, node)
        if owner is not None:  # an attribute listed in its class's docstring: link the class
            return env.get_domain("py").resolve_xref(
                env, node["refdoc"], app.builder, "class", owner, node, contnode
            )
    head, _, rest = target.partition(".")
    if head == "fairrec" and rest.split(".")[0] in fairrec._LAZY:  # type: ignore[attr-defined]
        name, _, tail = rest.partition(".")
        canonical = ".".join(fairrec._LAZY[name]) + (f".{tail}" if tail else "")  # type: ignore
    elif head in _SHORT:
        canonical = _SHORT[head] + (f".{rest}" if rest else "")
    elif not rest and len(_UNIQUE.get(target, ())) == 1:  # a public name, written unqualified
        canonical = _UNIQUE[target][0]
    elif len(_UNIQUE.get(head, ())) == 1 and head[:1].isupper():  # ``LiveServing.observe``
        canonical = f"{_UNIQUE[head][0]}.{rest}"
    elif _same_object(target) is not None:  # a public object named where it is defined
        canonical = _same_object(target)
    else:
        return None
    return env.get_domain("py").resolve_xref(
        env, node["refdoc"], app.builder, node["reftype"], canonical, node, contnode
    )


def _same_object(target: str) -> str | None:
    """``fairrec.splits.rolling_folds`` -> ``fairrec.evaluation.rolling_folds``: the
    documented name of the very same object, when a docstring names it in its defining
    module or through a moved module's alias (``fairrec.gate.serving_batch`` ->
    ``fairrec.serving.gate.serving_batch``)."""
    module, _, name = target.rpartition(".")
    if not module.startswith("fairrec."):
        return None
    try:
        obj = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return None
    hits = [q for q in _UNIQUE.get(name, ()) if _PUBLIC[q] is obj]
    hits += [q for q in _INTERNAL_BY_NAME.get(name, ()) if _INTERNAL[q] is obj]
    return hits[0] if len(hits) == 1 else None


def _package_constant_doc(
    app: Any, what: str, name: str, obj: Any, options: Any, lines: list[str]
) -> None:
    """A constant a package re-exports from one of its files (``fairrec.page.FRAME_DTYPES``,
    written in ``fairrec/page/_schema.py``) keeps the docstring written where it is defined,
    not the docstring of its type (autodoc reads attribute docstrings from the source of the
    module it documents, here the package's ``__init__``)."""
    if what != "data":
        return
    package, _, attr = name.rpartition(".")
    try:
        module = importlib.import_module(package)
    except ImportError:
        return
    if not hasattr(module, "__path__"):
        return  # a plain module: autodoc found its source already
    from sphinx.pycode import ModuleAnalyzer

    if ("", attr) in ModuleAnalyzer.for_module(package).find_attr_docs():
        return
    for info in pkgutil.iter_modules(module.__path__, package + "."):
        sub = importlib.import_module(info.name)
        if getattr(sub, attr, None) is not obj:
            continue
        docs = ModuleAnalyzer.for_module(info.name).find_attr_docs()
        if ("", attr) in docs:
            lines[:] = list(docs[("", attr)])
            return


def _public_bases(app: Any, name: str, obj: Any, options: Any, bases: list) -> None:
    """Hide the private base classes of the classes of ``INHERITED_MEMBERS``."""
    if name.rpartition(".")[2] in {n for ns in INHERITED_MEMBERS.values() for n in ns}:
        public = [b for b in bases if not b.__name__.startswith("_")]
        bases[:] = public or [object]


def _keep_original(
    app: Any, what: str, name: str, obj: Any, options: Any, lines: list[str]
) -> None:
    if what in ("attribute", "data", "property"):
        _ORIGINAL[name] = list(lines)


def _ivar_owner(target: str, node: Any) -> str | None:
    head, _, rest = target.partition(".")
    module, cls = node.get("py:module") or "", node.get("py:class") or ""
    tries = [target, f"{module}.{target}", f"{module}.{cls}.{target}"]
    if head in _SHORT:
        tries.append(_SHORT[head] + (f".{rest}" if rest else ""))
    return next((_IVARS[t] for t in tries if t in _IVARS), None)


def _plain_attributes(
    app: Any, what: str, name: str, obj: Any, options: Any, lines: list[str]
) -> None:
    """Keep napoleon's hands off one-line attribute docstrings (it would read the prose before
    a colon, "Zero-party data: ...", as a type), and show ``Attributes`` types as text like the
    ``Parameters`` types (they are prose such as "(u, C) arrays", not Python objects)."""
    if name in _ORIGINAL:
        lines[:] = _ORIGINAL.pop(name)
        return
    types = {}
    for line in lines:
        if line.startswith(":vartype "):
            field, _, kind = line[len(":vartype ") :].partition(":")
            types[field.strip()] = kind.strip()
    if not types:
        return
    out = []
    for line in lines:
        if line.startswith(":vartype "):
            continue
        if line.startswith(":ivar "):
            field, _, desc = line[len(":ivar ") :].partition(":")
            kind = types.get(field.strip())
            text = f"*({kind})* {desc.strip()}" if kind else desc.strip()
            # "users, items : ..." documents two attributes: one field each (a field name with
            # a space would be read as "type name")
            out += [f":ivar {one.strip()}: {text}" for one in field.split(",")]
            if what in ("class", "exception"):
                _IVARS.update({f"{name}.{one.strip()}": name for one in field.split(",")})
            continue
        out.append(line)
    lines[:] = out


def _observe(app: Any) -> None:
    """``docs/_generated/*.md``: what fairrec does, observed at build time (``_observe.py``)."""
    from sphinx.util import logging

    sys.path.insert(0, str(HERE))
    import _observe

    for problem in _observe.write_all(HERE / "_generated"):
        logging.getLogger("fairrec.docs").warning(problem)


def setup(app: Any) -> None:
    app.connect("builder-inited", _observe)
    app.connect("builder-inited", _write_api_pages)
    app.connect("builder-inited", _write_toplevel)
    app.connect("env-check-consistency", check_public_names)
    app.connect("missing-reference", resolve_aliases)
    app.connect("autodoc-process-docstring", _package_constant_doc, priority=50)
    app.connect("autodoc-process-bases", _public_bases)
    app.connect("autodoc-process-docstring", _keep_original, priority=100)
    app.connect("autodoc-process-docstring", _plain_attributes, priority=900)
