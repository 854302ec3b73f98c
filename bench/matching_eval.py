"""Issue 5's matching benchmark: labelled sessions generated from personas/*.yaml
(controller/matching/synthetic.py documents the generator), classified by the model built from
the definitions alone, then after EM refinement on a separate half.

Reports accuracy (unmatched counts as wrong), macro-F1 over the personas, the unmatched share, a
confusion matrix (bench/out/matching_confusion.png), and a sweep of the generator's `overlap`.
Goal: macro-F1 >= 0.9 on the default mix.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from controller.adapters.persona_files import load_persona_directory  # noqa: E402
from controller.domain.persona import Persona  # noqa: E402
from controller.matching.model import PersonaMatcher  # noqa: E402
from controller.matching.synthetic import GeneratorSettings, generate  # noqa: E402

OUT = ROOT / "bench" / "out"


def load_personas() -> list[Persona]:
    found = [f.persona for f in load_persona_directory(ROOT / "personas")]
    return sorted(found, key=lambda p: p.key)


def scores(labels: np.ndarray, predicted: np.ndarray, k: int) -> tuple[float, float, np.ndarray]:
    """accuracy, macro-F1 over the k personas, confusion (k rows x k+1 columns, last = unmatched)."""
    confusion = np.zeros((k, k + 1), dtype=np.int64)
    np.add.at(confusion, (labels, np.where(predicted < 0, k, predicted)), 1)
    f1 = []
    for j in range(k):
        tp = confusion[j, j]
        precision = tp / max(confusion[:, j].sum(), 1)
        recall = tp / max(confusion[j].sum(), 1)
        f1.append(0.0 if tp == 0 else 2 * precision * recall / (precision + recall))
    return float(np.mean(labels == predicted)), float(np.mean(f1)), confusion


def save_confusion(confusion: np.ndarray, keys: list[str], path: Path) -> None:
    figure = Figure(figsize=(6.5, 4.5), layout="constrained")
    ax = figure.add_subplot()
    shares = confusion / np.maximum(confusion.sum(axis=1, keepdims=True), 1)
    ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    for i in range(confusion.shape[0]):
        for j in range(confusion.shape[1]):
            colour = "white" if shares[i, j] > 0.5 else "black"
            ax.text(
                j,
                i,
                f"{confusion[i, j]}\n{shares[i, j]:.1%}",
                ha="center",
                va="center",
                color=colour,
                fontsize=8,
            )
    ax.set_xticks(range(len(keys) + 1), [*keys, "unmatched"], rotation=20)
    ax.set_yticks(range(len(keys)), keys)
    ax.set_xlabel("predicted")
    ax.set_ylabel("generated as")
    ax.set_title("Persona matching, default generator mix (declared model)")
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)


def main() -> None:
    personas = load_personas()
    keys = [p.key for p in personas]
    matcher = PersonaMatcher.from_personas(personas)
    k = len(personas)

    data = generate(personas, matcher.vocabulary, GeneratorSettings())
    half = len(data.features) // 2
    train = data.features.take(np.arange(half))
    test_idx = np.arange(half, len(data.features))
    test, labels = data.features.take(test_idx), data.labels[test_idx]

    started = time.perf_counter()
    predicted = matcher.score(test).persona
    elapsed = time.perf_counter() - started
    accuracy, macro_f1, confusion = scores(labels, predicted, k)
    refined = matcher.refine(train)
    r_accuracy, r_f1, _ = scores(labels, refined.score(test).persona, k)
    save_confusion(confusion, keys, OUT / "matching_confusion.png")

    print(f"default mix: {len(test)} test sessions, {k} personas, overlap 0.1, noise 0.05")
    print(
        f"  declared model: accuracy {accuracy:.4f}  macro-F1 {macro_f1:.4f}  "
        f"unmatched {np.mean(predicted < 0):.4f}  ({len(test) / elapsed:,.0f} sessions/s)"
    )
    print(f"  after EM on {half} other sessions: accuracy {r_accuracy:.4f}  macro-F1 {r_f1:.4f}")
    print(f"  goal macro-F1 >= 0.9: {'met' if macro_f1 >= 0.9 else 'NOT met'}")
    print("  confusion (rows generated, columns predicted, last = unmatched):")
    for key, row in zip(keys, confusion, strict=True):
        print(f"    {key:<20} {' '.join(f'{v:6d}' for v in row)}")
    print(f"  picture: {OUT / 'matching_confusion.png'}")

    print("overlap sweep (share of each session's events borrowed from other personas, and")
    print("resource profile blended toward theirs by the same fraction):")
    print("  overlap  accuracy  macro-F1  unmatched  | after EM: accuracy  macro-F1")
    for overlap in (0.0, 0.1, 0.2, 0.3, 0.4, 0.5):
        sweep = generate(
            personas, matcher.vocabulary, GeneratorSettings(sessions=6000, overlap=overlap, seed=5)
        )
        n = len(sweep.features) // 2
        tr, te = sweep.features.take(np.arange(n)), sweep.features.take(np.arange(n, 2 * n))
        lab = sweep.labels[n : 2 * n]
        pred = matcher.score(te).persona
        acc, f1, _ = scores(lab, pred, k)
        racc, rf1, _ = scores(lab, matcher.refine(tr).score(te).persona, k)
        print(
            f"  {overlap:7.1f}  {acc:8.4f}  {f1:8.4f}  {np.mean(pred < 0):9.4f}  "
            f"| {racc:18.4f}  {rf1:8.4f}"
        )


if __name__ == "__main__":
    main()
