"""A label-wise prediction made by hand: six tokens, level 5's evidence on the first,
level 0's on the last, for exporter tests that need per-level weights without training."""

from __future__ import annotations

from schema.views import ReviewData, ReviewRow, TokenSpan


def labelwise_data() -> tuple[ReviewData, dict[int, list[TokenSpan]]]:
    text = "community partners co-lead the study design"
    words = text.split()
    spans, at = [], 0
    for position, word in enumerate(words):
        start = text.index(word, at)
        at = start + len(word)
        # level 5's evidence is the first word, level 0's the last
        level_weights = [0.01] * 6
        level_weights[5] = 0.9 if position == 0 else 0.02
        level_weights[0] = 0.9 if position == len(words) - 1 else 0.02
        spans.append(TokenSpan(position, word, "Aims", start, at, level_weights[5], level_weights))
    row = ReviewRow(
        item_id=1, prediction_id=7, protocol_id="P-1", file="x.csv", fields={"Aims": text},
        level_index=5, level_code="5", confidence=0.8, probabilities=[0.04] * 5 + [0.8],
        faithfulness=0.5, n_tokens=len(words), tokens_cut=0, top_tokens=[],
    )  # fmt: skip
    data = ReviewData(
        job_id="j1", model="lw", model_metrics={}, model_created_at="",
        data_fingerprint="", rows=[row], failures=[], attention="labelwise",
    )  # fmt: skip
    return data, {7: spans}
