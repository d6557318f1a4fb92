"""The models a figure shows, for its report caption, from the result rows it draws.

A figure job writes this note (reStructuredText) beside its PNG; the figure's caption
template reads it when the report is built (``models_caption`` in workflow/report/*.rst).
So a caption lists the covariates, population and n of the models in its own figure: the
Ghent HPA models' hair covariates, the methylation models' cell types and batch, a model
that could not be fitted and why, not the config's global covariates.

Only names (config keys, checked to a safe set), counts and the workflow's own status texts
appear: no label, unit, path or row-level value (reStructuredText markup in a status is
escaped)."""

from __future__ import annotations

import re

import pandas as pd

from first1000.config import META, POOLED

#: The heading of every figure's models note (the captions show the lines under it).
MODELS_HEADING = "Models in this figure, from its result rows:"

#: How a level of results is named in the note.
LEVEL_NAMES = {POOLED: "pooled cohorts (cohort as a covariate)", META: "meta-analysis of the cohorts"}

_RST_SPECIAL = re.compile(r"([\\`*_|\[\]<>])")


def _escape(text: str) -> str:
    """Plain text for reStructuredText: markup characters escaped, one line."""
    return _RST_SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


def _reason(status: str) -> str:
    """The first clause of a status text (its cause, without the advice that follows)."""
    head = re.split(r":\s|;\s", str(status), maxsplit=1)[0].strip()
    return head if len(head) <= 120 else head[:119] + "…"


def _literal(name: str) -> str:
    return f"``{name}``"


def _span(values: pd.Series) -> str | None:
    v = pd.to_numeric(values, errors="coerce").dropna()
    if v.empty:
        return None
    lo, hi = int(v.min()), int(v.max())
    return f"{lo:,}" if lo == hi else f"{lo:,}–{hi:,}"


#: For the notes other stages write (:func:`note_lines`).
literal, span, escape = _literal, _span, _escape


def _fitted(rows: pd.DataFrame) -> pd.Series:
    if "estimate" in rows:
        ok = pd.to_numeric(rows["estimate"], errors="coerce").notna()
    else:
        ok = pd.Series(True, index=rows.index)
    if "n" in rows:
        ok &= pd.to_numeric(rows["n"], errors="coerce").fillna(0) > 0
    return ok


def _covariates(rows: pd.DataFrame) -> str | None:
    if "covariates" not in rows:
        return None
    sets = [str(c) for c in rows["covariates"].dropna().unique() if str(c).strip()]
    if not sets:
        return "no covariates"
    text = ["adjusted for " + ", ".join(_literal(c) for c in s.split("+")) for s in sets]
    return text[0] if len(text) == 1 else "covariates by model: " + "; ".join(t.removeprefix("adjusted for ")
                                                                                  for t in text)


def _families(rows: pd.DataFrame) -> str | None:
    col = "model" if "model" in rows else "family" if "family" in rows else None
    if col is None:
        return None
    counts = rows[col].dropna().astype(str).value_counts()
    if counts.empty:
        return None
    return ", ".join(f"{name} {n}" for name, n in sorted(counts.items()))


def _order(levels) -> list[str]:
    levels = [str(c) for c in dict.fromkeys(levels)]
    return sorted(c for c in levels if c not in (POOLED, META)) + [c for c in (POOLED, META) if c in levels]


_PLURALS = {"stratum": "strata"}


def models_note(rows: pd.DataFrame, *, what: str = "model", by: str = "cohort", names: dict | None = None) -> str:
    """One bullet per cohort (then the pooled model and the meta-analysis) of the ``rows`` a
    figure draws: number of models (by family), n (range over models), participants left
    out for a missing value, the covariates, and the models not fitted with their reason.
    ``what``: the unit counted ("model", "path", "estimate", "stratum"); ``by``: the column whose values
    get a bullet each (cohort, or mechanism for the model figure), ``names`` their text
    (escaped; the value as a literal otherwise)."""
    if rows is None or rows.empty or by not in rows:
        return "\n\nModels in this figure: none (the table has no rows for it).\n"
    names = names or {}
    lines = ["", "", MODELS_HEADING, ""]
    levels = _order(rows[by]) if by == "cohort" else [str(v) for v in dict.fromkeys(rows[by])]
    for level in levels:
        part = rows[rows[by].astype(str) == level]
        ok = _fitted(part)
        name = _escape(names[level]) if level in names else LEVEL_NAMES.get(level, _literal(level))
        bits = [f"{len(part)} {what if len(part) == 1 else _PLURALS.get(what, what + 's')}"]
        families = _families(part)
        if families and what == "model":
            bits[0] += f" ({families})"
        has_n = pd.to_numeric(part["n"], errors="coerce").fillna(0) > 0 if "n" in part else ok
        n = _span(part.loc[has_n, "n"]) if "n" in part else None
        if n is not None:
            text = f"n = {n}"
            missing = _span(part.loc[has_n, "n_missing"]) if "n_missing" in part else None
            if missing is not None and missing != "0":
                text += f" ({missing} left out for a missing value)"
            bits.append(text)
        if "k" in part and level == META:  # the meta-analysis pools k cohorts' estimates
            k = _span(part.loc[ok, "k"])
            if k is not None:
                bits.append(f"k = {k} cohorts")
        cov = _covariates(part[ok] if ok.any() else part)
        if cov and level != META:  # each cohort's covariates are in its own bullet
            bits.append(cov)
        failed = part[~ok]
        if len(failed):
            reasons = failed["status"].fillna("no estimate").astype(str) if "status" in failed else pd.Series(
                ["no estimate"] * len(failed))
            why = "; ".join(f"{_escape(_reason(r))} ({c})"
                            for r, c in reasons.map(_reason).value_counts().sort_index().items())
            bits.append(f"not fitted: {len(failed)} ({why})")
        lines.append(f"- {name}: " + "; ".join(bits) + ".")
    return "\n".join(lines) + "\n"


def note_lines(bullets: list[str]) -> str:
    """A models note of figures that :func:`models_note` does not describe (one model per
    CpG, HIMA paths): the heading and one bullet per line, already in reStructuredText."""
    return "\n".join(["", "", MODELS_HEADING, "", *(f"- {b}" for b in bullets)]) + "\n"


def adjusted_for(covariates: str) -> str:
    """``a+b+c`` (a result row's covariates) as the notes write them: adjusted for ``a``, …"""
    return _covariates(pd.DataFrame({"covariates": [covariates]})) or "no covariates"


def trajectory_note(random_effects: str, n_participants: int, who: str, n_obs: int, where: str, time_effect: str,
                    covariates: list[str]) -> str:
    """The model of a trajectory figure (``<figure>.models.rst``, read by its caption): the
    mixed model's random effects, its children or mothers and measurements, the level it
    shows, and its covariates as literals (text escaped for reStructuredText)."""
    time = _escape(time_effect) + " " if time_effect.strip() else ""
    adjusted = ", ".join(_literal(c) for c in covariates) or "nothing"
    return (f"Model in this figure, from its fit: linear mixed model (REML), {_escape(random_effects)}; "
            f"{n_participants:,} {_escape(who)}, {n_obs:,} measurements ({_escape(where)}); {time}adjusted for "
            f"{adjusted}; lines: predicted mean at the covariates' means for the two exposure groups, bands: 95% CI "
            "of the fixed effects.")
