"""The second look and the plain words a reviewer reads first (schema.second_look)."""

from __future__ import annotations

from schema.codebook import Codebook, Level, default_codebook
from schema.faithfulness import Faithfulness, Perturbation
from schema.second_look import band, percent, second_look, strength


def _detail(comprehensiveness: float, sufficiency: float) -> dict[str, object]:
    step = Perturbation(0.1, 5, comprehensiveness, 0.0, 0.0, sufficiency, True, True)
    return Faithfulness(log_odds=2.0, steps=(step,)).to_detail()


def test_percent_never_rounds_a_doubt_away() -> None:
    assert percent(0.9958) == "99.6%"  # not 100%, as "0.00" once read 1.00
    assert [percent(x) for x in (0.0, 1.0, 0.5, 0.004)] == ["0%", "100%", "50%", "0.4%"]
    assert percent(0.99996) == ">99.9%"
    assert percent(0.00004) == "<0.1%"
    assert percent(None) == ""


def test_bands_and_strength_in_words() -> None:
    assert [band(c) for c in (0.95, 0.8, 0.79, 0.6, 0.59, 0.0)] == [
        "high", "high", "medium", "medium", "low", "low",
    ]  # fmt: skip
    assert strength(_detail(2.0, 2.0)) == "strong"
    assert strength(_detail(2.0, 0.0)) == "moderate"
    assert strength(_detail(0.1, 0.1)) == "weak"
    assert strength(None) == "not measured"


def test_evidence_in_the_background_needs_a_second_look() -> None:
    codebook = default_codebook()
    background = [("Background", 0.8), ("Partners", 0.15), ("StudyDesign", 0.05)]
    look = second_look(codebook, 4, 0.95, _detail(2.0, 2.0), background)
    assert look
    assert look.reasons == ["evidence outside Partners and Study design (80% elsewhere)"]
    assert look.outside_share is not None
    assert abs(look.outside_share - 0.8) < 1e-9
    # the same weights for level 0 (no partnership): nothing to look for in Partners
    assert not second_look(codebook, 0, 0.95, _detail(2.0, 2.0), background)
    # evidence where the codebook expects it, sure and well explained: no flag
    inside = [("Partners", 0.6), ("Study design", 0.3), ("Background", 0.1)]
    assert not second_look(codebook, 4, 0.95, _detail(2.0, 2.0), inside)


def test_every_sign_joins_the_flag_and_a_codebook_without_fields_never_says_outside() -> None:
    codebook = default_codebook()
    shares = [("Background", 1.0), ("Partners", 0.0)]
    look = second_look(codebook, 5, 0.41, _detail(0.0, 0.0), shares)
    assert look.describe() == (
        "unsure (41%); the shading does not explain the choice; "
        "evidence outside Partners and Study design (100% elsewhere)"
    )
    topics = Codebook("topics", (Level("a", "Sport"), Level("b", "Politics")))
    assert not second_look(topics, 1, 0.95, _detail(2.0, 2.0), [("Body", 1.0)])
    # a protocol without any evidence field (a text file read as one field): no telling
    assert not second_look(codebook, 4, 0.95, _detail(2.0, 2.0), [("Text", 1.0)])


def test_the_codebook_reads_its_drop_down_names_back() -> None:
    codebook = default_codebook()
    assert codebook.choices[4] == "4 Consult"
    assert codebook.index_of("4 Consult") == 4 == codebook.index_of("4")
    assert codebook.index_of("  5  collaborate / SHARED governance ") == 5
    assert codebook.field_name("StudyDesign") == "Study design"
    assert codebook.field_name("consent_process") == "Consent process"
    assert codebook.is_evidence_field("study_design")
    assert Codebook.from_dict(codebook.to_dict()) == codebook
