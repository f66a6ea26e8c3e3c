"""Write the demo's illustrative protocols: ``demo/protocols.csv`` (labelled, to train on)
and ``demo/inbox/irb_export_2026q3.csv`` (a new quarter's export, to classify).

These are NOT real IRB protocols. They were composed for this project from phrase banks
that follow the CEnR codebook, in the shape real protocols have, so that a newcomer sees
the service work on the problem it is for:

- one protocol per row of an IRB export (``Protocol ID`` like HM20007654, title, aims,
  background, study design, partners), 1,000 to 3,000 words each;
- most of every protocol is boilerplate that all levels share: background, aims,
  procedures, consent, data security, statistics, risks; some of it uses engagement-like
  words in other senses (a data and safety monitoring *board*, an internal advisory
  *committee*, *community*-acquired infections);
- the engagement evidence sits in one or two short passages of the Partners or
  Study design field;
- some protocols are borderline between neighbouring levels (their wording fits either
  and their label is one of the two), and some have fields that contradict each other
  (the partners question answered "No" while the design describes an advisory board);
  their label follows the described roles, as the codebook asks reviewers to do;
- the levels are skewed as in a real office's labelled set.

So the demo model lands well short of perfect and its confidence spreads, as it would on
an office's own protocols. ``--profile short`` writes the same kinds of protocols with a
few sentences of boilerplate each, for the test suite's quick models
(``tests/data/protocols.csv``).

Run ``python demo/make_protocols.py`` (and ``--profile short``) to regenerate; seeded,
the same output every time.
"""

from __future__ import annotations

import argparse
import csv
import random
from pathlib import Path

SEED = 2026
HERE = Path(__file__).resolve().parent
# (words per protocol, labelled protocols per level, inbox protocols per level, outputs)
PROFILES = {
    "demo": (
        (1000, 2750),  # a paragraph can overshoot its budget: 1,000 to 3,000 words in all
        {0: 70, 1: 42, 2: 34, 3: 80, 4: 42, 5: 32},
        {0: 10, 1: 6, 2: 6, 3: 12, 4: 8, 5: 6},
        (HERE / "protocols.csv", HERE / "inbox" / "irb_export_2026q3.csv"),
    ),
    "short": (
        (60, 220),
        {0: 30, 1: 30, 2: 30, 3: 30, 4: 30, 5: 30},
        {},
        (HERE.parent / "tests" / "data" / "protocols.csv", None),
    ),
}
BORDERLINE_SHARE = 0.18
CONTRADICTING_SHARE = 0.10

TOPICS = [
    "type 2 diabetes", "hypertension", "childhood asthma", "opioid use disorder",
    "postpartum depression", "adolescent anxiety", "food insecurity", "HIV prevention",
    "colorectal cancer screening", "influenza vaccine uptake", "housing instability",
    "falls among older adults", "oral health", "sleep quality", "physical activity",
    "heat-related illness", "lead exposure", "smoking cessation", "medication adherence",
    "chronic pain", "maternal nutrition", "teen dating violence", "sickle cell disease",
]  # fmt: skip
POPULATIONS = [
    "older adults in rural counties", "Black women", "Latino families", "veterans",
    "college students", "refugee families", "middle school students",
    "people experiencing homelessness", "adults with limited English proficiency",
    "caregivers of people with dementia", "low-income households", "farmworkers",
    "residents of public housing", "young fathers",
]  # fmt: skip
ORGS = [
    "the Eastside Family Resource Center", "Riverside Free Clinic", "the Northside YMCA",
    "Hope Street Food Pantry", "the Latino Health Coalition", "First Baptist Church",
    "the county public library", "Greater Richmond Senior Services",
    "the Refugee Welcome Network", "Southside Neighborhood Association",
    "the Tenant Union of Fairfield Court", "a local barbershop network",
    "the Boys and Girls Club", "Mountain Area Health Alliance",
]  # fmt: skip
INTERNAL = [
    "the Department of Pharmacotherapy", "the School of Social Work", "the Massey Cancer Center",
    "the Department of Biostatistics", "the university Office of Health Innovation",
    "the School of Nursing", "the Department of Family Medicine",
]  # fmt: skip
SYSTEMS = [
    "Bon Secours Health System", "the regional Veterans Affairs medical center",
    "the state Department of Health", "a neighbouring research university",
    "a national contract research organisation", "the county health department",
]  # fmt: skip
METHODS = [
    "a cross-sectional survey", "a randomized controlled trial", "a retrospective chart review",
    "semi-structured interviews", "focus groups", "a mixed-methods design",
    "a secondary analysis of existing data", "a pilot feasibility study", "a cohort study",
]  # fmt: skip
INSTRUMENTS = [
    "the PHQ-9", "the GAD-7", "the PROMIS Global Health short form", "the EQ-5D",
    "a validated food security module", "a 24-hour dietary recall", "the Perceived Stress Scale",
    "an accelerometer worn for seven days", "a medication adherence questionnaire",
]  # fmt: skip

# Boilerplate every level shares, by the field it is written in. Slots are filled per
# protocol, so no two protocols repeat each other word for word.
BACKGROUND = [
    "{Topic} remains a leading contributor to preventable illness among {population}.",
    "Prior studies report wide disparities in {topic} outcomes by income, race and place.",
    "Few interventions addressing {topic} have been tested with {population}.",
    "National surveillance data show that the burden of {topic} has grown over the past decade.",
    "The mechanisms linking social conditions to {topic} are only partly understood.",
    "Clinical guidelines recommend regular screening, yet uptake remains uneven.",
    "A recent systematic review identified {k} trials, most of them small and short.",
    "Costs associated with {topic} exceed several billion dollars each year.",
    "Barriers reported in the literature include transport, cost, stigma and limited time.",
    "Measurement of {topic} has relied mostly on self-report, which may be biased.",
    "Little is known about how {topic} changes during major life transitions.",
    "Our preliminary work with {n} patients suggested that outcomes vary widely by clinic.",
    "Digital tools have shown promise but their reach among {population} is unclear.",
    "Existing programmes rarely measure outcomes beyond six months.",
    "Rates of {topic} in our region exceed the state average by about {k} percent.",
    "Community-acquired infections and other acute conditions complicate the picture.",
    "Our university has a long-standing commitment to the communities it serves.",
    "Theory suggests that self-efficacy and social support both shape {topic} management.",
    "This gap limits the ability of clinicians and policy makers to act.",
    "The proposed work builds on two decades of research on {topic}.",
]  # fmt: skip
AIMS = [
    "Aim {a}: to describe the prevalence and correlates of {topic} among {population}.",
    "Aim {a}: to test whether the intervention improves {topic} outcomes at six months.",
    "Aim {a}: to identify barriers to and facilitators of care for {topic}.",
    "Aim {a}: to estimate the costs of delivering the programme.",
    "Aim {a}: to examine whether effects differ by age, sex and income.",
    "Aim {a}: to assess the feasibility and acceptability of the study procedures.",
    "We hypothesise that participants in the intervention arm will report better outcomes.",
    "The primary outcome is the change in self-reported {topic} management.",
    "Secondary outcomes include quality of life, health care use and costs.",
    "Exploratory analyses will examine mediators of change.",
]  # fmt: skip
PROCEDURES = [
    "We will use {method} to answer the research questions.",
    "Participants will complete questionnaires at baseline, three months and six months.",
    "Outcomes will be measured with {instrument}.",
    "Study visits will last about {k} minutes and take place in a private room.",
    "Eligible participants are adults aged 18 or older who speak English or Spanish.",
    "Exclusion criteria are current pregnancy, cognitive impairment and plans to move away.",
    "We anticipate enrolling approximately {n} participants over {months} months.",
    "Participants will be randomised in a 1:1 ratio using a computer-generated sequence.",
    "Research assistants will be trained in study procedures before enrolment begins.",
    "Medical record data will be abstracted for the twelve months before enrolment.",
    "Interviews will be audio-recorded with permission and transcribed verbatim.",
    "Reminder calls will be made two days before each study visit.",
    "Study staff will partner with the clinic's scheduling team to book visits.",
    "Potential participants will be identified from clinic schedules and screened by phone.",
    "Participants will receive a gift card of {dollars} dollars for each completed visit.",
    "A study coordinator will track retention weekly and follow up on missed visits.",
    "Fidelity to the protocol will be checked by reviewing a random {k} percent of sessions.",
    "Adverse events will be recorded and reported to the IRB within five working days.",
    "A Data and Safety Monitoring Board will review adverse events every six months.",
    "An internal advisory committee of faculty will review progress once a year.",
    "Participants may share the study information with family members if they wish.",
    "Results of clinical tests will be shared with participants' primary care providers.",
]  # fmt: skip
CONSENT = [
    "Informed consent will be obtained before any study procedures begin.",
    "The consent form is written at an eighth-grade reading level.",
    "Participants will receive a copy of the signed consent form.",
    "Consent will be documented electronically through a secure survey platform.",
    "Participants may withdraw at any time without any effect on their care.",
    "A waiver of documentation of consent is requested for the telephone screening.",
    "Interpreters will be available for participants who prefer a language other than English.",
    "Staff will check understanding with a short teach-back before consent is signed.",
]  # fmt: skip
SECURITY = [
    "All data will be stored on encrypted university servers with access limited to staff.",
    "Identifiers will be kept separately from study data and linked only by a study code.",
    "Paper forms will be kept in a locked cabinet in a locked office.",
    "Data will be retained for six years after the study ends and then destroyed.",
    "Audio recordings will be deleted once transcripts have been checked.",
    "Only the principal investigator and the data manager will hold the linking key.",
    "Data transfers will use the university's secure file transfer service.",
    "A certificate of confidentiality will be obtained from the funder.",
]  # fmt: skip
STATISTICS = [
    "Descriptive statistics will summarise participant characteristics.",
    "Mixed-effects regression models will estimate change over time.",
    "Qualitative data will be coded thematically by two trained analysts.",
    "Missing data will be handled with multiple imputation.",
    "Power calculations indicate {k} percent power to detect a moderate effect.",
    "Analyses will follow the intention-to-treat principle.",
    "Sensitivity analyses will test the robustness of the main findings.",
    "A two-sided alpha of 0.05 will be used for the primary outcome.",
    "Coding disagreements will be resolved by discussion until consensus is reached.",
    "Cost data will be analysed from the health system perspective.",
]  # fmt: skip
RISKS = [
    "Risks are minimal and limited to possible discomfort answering sensitive questions.",
    "Participants may skip any question they do not wish to answer.",
    "A loss of confidentiality is possible but unlikely given the safeguards above.",
    "Participants in distress will be offered a referral to counselling services.",
    "There is no direct benefit to participants, though society may benefit.",
    "The findings will be submitted to peer-reviewed journals and scientific conferences.",
    "The study team has experience conducting research on {topic}.",
]  # fmt: skip
DESIGN_SECTIONS = (PROCEDURES, CONSENT, SECURITY, STATISTICS, RISKS)

# The evidence: what puts a protocol at each level (see the codebook).
LEVEL_CUES = {
    0: [
        "No community partners are involved in this study.",
        "There is no partnership; the study uses existing records only.",
        "This is a single-site academic study with no external partners.",
        "No community organisation has a role in this research.",
    ],
    1: [
        "The study is conducted under a contract with {system} to evaluate its programme.",
        "This is a partnership with {internal} at our university.",
        "We are collaborating with {system}, which funds the evaluation.",
        "The evaluation is performed for {system} as the client.",
        "Investigators from {internal} and {system} share the analytic work.",
        "The work is a fee-for-service evaluation for {system}.",
    ],
    2: [
        "{org} will distribute recruitment flyers to its members.",
        "{org} will provide de-identified administrative data for analysis.",
        "{org} will serve as a study site and provide a private room for interviews.",
        "Staff at {org} will make referrals of eligible clients to the study team.",
        "{org} has agreed to provide access to its client list for recruitment.",
        "{org} will post study announcements and allow recruitment at its events.",
    ],
    3: [
        "This is a community-based study conducted in the neighbourhoods where participants live.",
        "Results will be shared with {org} and community members at a public meeting.",
        "We will disseminate findings to the community through newsletters and local radio.",
        "{org} is interested in the results and will receive a plain-language summary report.",
        "Findings will be presented back to participants and residents at a community forum.",
        "The study takes place at community venues and results will be returned to the community.",
    ],
    4: [
        "A community advisory board will review the survey instruments and recruitment plan.",
        "Community health workers from {org} will collect data and conduct interviews.",
        "Partners from {org} will help interpret the findings and co-present results.",
        "Community members sit on an advisory board that gives feedback on each study phase.",
        "Feedback from {org} staff shaped the intervention materials before the study began.",
        "Trained community members will assist with data collection and analysis.",
    ],
    5: [
        "This study uses a community-based participatory research (CBPR) approach with {org}.",
        "A steering committee of community and academic partners makes decisions jointly.",
        "The director of {org} is a co-investigator and shares decision-making on the study.",
        "Research questions were developed jointly by {org} and the academic team.",
        "Community partners co-lead the project and hold equal votes on the steering committee.",
        "Shared decision-making governs design, analysis and dissemination through a partnership.",
    ],
}
# What a protocol says next about the partner's role, consistent with the level.
ELABORATION = {
    1: [
        "The contract sets out the deliverables and the reporting schedule.",
        "Staff at {system} will receive the final evaluation report.",
        "The evaluation questions were set by {system} before the study began.",
    ],
    2: [
        "Beyond this, {org} has no role in the design, conduct or analysis of the study.",
        "{org} will not see any individual study data.",
        "A letter of support from {org} is attached to this application.",
    ],
    3: [
        "Community members will not take part in designing or conducting the study.",
        "A plain-language summary will also be posted at {org}.",
        "The study team will answer residents' questions after each presentation.",
    ],
    4: [
        "Their suggestions will be considered by the investigators, who make the final decisions.",
        "Board members will be paid for their time and trained in research ethics.",
        "The board includes residents, clinic staff and a local faith leader.",
    ],
    5: [
        "Decisions on data use and publication require the agreement of both partners.",
        "A memorandum of understanding sets out how decisions are shared.",
        "Community partners will co-author every publication and co-own the data.",
    ],
}
# Wording that fits either of two neighbouring levels; the label is one of the two.
BORDERLINE = {
    (0, 1): [
        "A colleague at {system} may advise on the analysis plan if needed.",
        "Data are obtained through a standard data use agreement with {system}.",
    ],
    (1, 2): [
        "{system} will provide access to its patient registry under a data sharing agreement.",
        "{internal} will help identify eligible students through its mailing lists.",
    ],
    (2, 3): [
        "{org} will host recruitment events and may receive a summary of the results.",
        "Interviews will take place at {org}, which has asked to hear what we learn.",
    ],
    (3, 4): [
        "Community members will be invited to comment on the findings at a public forum.",
        "Staff from {org} will be asked for their views on the draft results.",
    ],
    (4, 5): [
        "An advisory group including {org} will meet quarterly and vote on recommendations.",
        "{org} helped write the grant application and will advise on every phase.",
    ],
}
PARTNERS_POINTER = ["See the study design section.", "Described under study design.", ""]
NEUTRAL_TITLES = [
    "{Topic} among {population}",
    "A study of {topic} in {population}",
    "{Topic}: outcomes and correlates",
    "Understanding {topic}",
    "Improving {topic} care",
    "{Topic} in the primary care setting",
]  # fmt: skip
LEVEL_TITLES = {
    0: ["Biomarkers of {topic} in a clinical cohort", "Retrospective analysis of {topic}"],
    1: ["Evaluation of the {topic} programme for {system}", "Contracted assessment of {topic}"],
    2: ["Recruiting {population} for a study of {topic}", "{Topic} among agency clients"],
    3: ["A community-based study of {topic}", "Community perspectives on {topic}"],
    4: ["Advisory board guided study of {topic}", "Community health workers and {topic}"],
    5: ["A CBPR partnership addressing {topic}", "Co-led research on {topic}"],
}


class Writer:
    """Fills templates for one protocol; every draw comes from the one seeded ``rng``."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.topic = rng.choice(TOPICS)
        self.population = rng.choice(POPULATIONS)
        self.aim = 0
        self.decks: dict[int, list[str]] = {}

    def fill(self, template: str) -> str:
        rng = self.rng
        if "{a}" in template:
            self.aim += 1
        text = template.format(
            topic=self.topic,
            Topic=self.topic[0].upper() + self.topic[1:],
            population=self.population,
            org=rng.choice(ORGS),
            internal=rng.choice(INTERNAL),
            system=rng.choice(SYSTEMS),
            method=rng.choice(METHODS),
            instrument=rng.choice(INSTRUMENTS),
            n=rng.randrange(40, 600, 10),
            k=rng.randrange(5, 60),
            months=rng.choice([12, 18, 24, 36]),
            dollars=rng.choice([10, 15, 20, 25, 40, 50]),
            a=self.aim,
        )
        return text[0].upper() + text[1:]

    def draw(self, bank: list[str]) -> str:
        """The next template of ``bank``: each is used once before any is used again."""
        deck = self.decks.setdefault(id(bank), [])
        if not deck:
            deck.extend(self.rng.sample(bank, len(bank)))
        return deck.pop()

    def paragraphs(self, banks: tuple[list[str], ...], words: int) -> list[str]:
        """Paragraphs of 3 to 7 sentences drawn from ``banks`` in turn, until ``words``."""
        out: list[str] = []
        count, turn = 0, self.rng.randrange(len(banks))
        while count < words:
            bank = banks[turn % len(banks)]
            turn += 1
            size = min(len(bank), self.rng.randint(3, 7))
            paragraph = " ".join(self.fill(self.draw(bank)) for _ in range(size))
            out.append(paragraph)
            count += len(paragraph.split())
        return out

    def aims(self) -> str:
        """Two to four numbered aims, then a hypothesis or outcomes, as one paragraph."""
        numbered = [t for t in AIMS if "{a}" in t]
        others = [t for t in AIMS if "{a}" not in t]
        chosen = self.rng.sample(numbered, self.rng.randint(2, 4))
        chosen += self.rng.sample(others, self.rng.randint(1, 3))
        return " ".join(self.fill(t) for t in chosen)


def evidence(level: int, kind: str, rng: random.Random) -> tuple[int, list[str], list[str]]:
    """The label and the passages (templates) for the Partners and Study design fields."""
    if kind == "contradicting":
        if rng.random() < 0.6 or level < 2:
            # partners question answered "No", the design shows a real role: the role counts
            label = rng.choice([2, 3, 4, 5])
            partners = [rng.choice(["No.", "None.", *LEVEL_CUES[0][:1]])]
            return label, partners, rng.sample(LEVEL_CUES[label], rng.randint(1, 2))
        # claimed as participatory, but the partner only opens doors: level 2
        claim = "This is a community-engaged, participatory study."
        return 2, [claim], rng.sample(LEVEL_CUES[2], rng.randint(1, 2))
    if kind == "borderline":
        low = rng.choice([p for p in BORDERLINE if level in p])[0]
        label = rng.choice([low, low + 1])
        passage = [rng.choice(BORDERLINE[(low, low + 1)])]
        if low >= 1 and rng.random() < 0.5:
            passage.append(rng.choice(LEVEL_CUES[low]))
        return label, *_place(passage, rng)
    cues = rng.sample(LEVEL_CUES[level], rng.randint(1, 2))
    if level >= 1:
        cues += rng.sample(ELABORATION[level], rng.randint(1, 2))
    # Higher levels often also do what lower levels do (share results, recruit through partners).
    if level >= 3 and rng.random() < 0.5:
        cues.append(rng.choice(LEVEL_CUES[rng.choice(range(2, level))]))
    if level == 0:
        return 0, cues, []
    return level, *_place(cues, rng)


def _place(cues: list[str], rng: random.Random) -> tuple[list[str], list[str]]:
    """Split evidence between the Partners field and one passage of the design."""
    rng.shuffle(cues)
    if rng.random() < 0.35:
        return [rng.choice(PARTNERS_POINTER)], cues  # all of it in the design
    cut = rng.randint(1, len(cues))
    return cues[:cut], cues[cut:]


def protocol(level: int, rng: random.Random, number: int, words: tuple[int, int]) -> dict:
    writer = Writer(rng)
    draw = rng.random()
    kind = (
        "borderline"
        if draw < BORDERLINE_SHARE
        else "contradicting"
        if draw < BORDERLINE_SHARE + CONTRADICTING_SHARE
        else "plain"
    )
    label, partner_cues, design_cues = evidence(level, kind, rng)
    total = rng.randint(*words)
    aims = writer.aims()
    background = writer.paragraphs((BACKGROUND,), int(total * 0.3))
    design = writer.paragraphs(DESIGN_SECTIONS, total - int(total * 0.3) - len(aims.split()))
    if design_cues:  # one passage somewhere in the design, as a protocol would put it
        design.insert(rng.randrange(len(design) + 1), " ".join(writer.fill(c) for c in design_cues))
    titles = LEVEL_TITLES[label] if rng.random() < 0.2 else NEUTRAL_TITLES
    return {
        "Protocol ID": f"HM2{number:07d}",
        "StudyTitle": writer.fill(rng.choice(titles)),
        "AimsGoals": aims,
        "Background": "\n\n".join(background),
        "StudyDesign": "\n\n".join(design),
        "Partners": " ".join(writer.fill(c) for c in partner_cues if c),
        "Level": str(label),
    }


def generate(counts: dict[int, int], seed: int, start: int, words: tuple[int, int]) -> list:
    rng = random.Random(seed)
    rows = [
        protocol(level, rng, start + 97 * i + level, words)
        for level, n in counts.items()
        for i in range(n)
    ]
    rng.shuffle(rows)
    return rows


def write(path: Path, rows: list[dict], with_level: bool = True) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = [k for k in rows[0] if with_level or k != "Level"]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", choices=sorted(PROFILES), default="demo")
    args = parser.parse_args(argv)
    words, labelled, inbox, (target, export) = PROFILES[args.profile]
    rows = generate(labelled, SEED, 7000, words)
    write(target, rows)
    print(f"wrote {len(rows)} protocols to {target}")
    if export is not None:
        # A new quarter's export for `make demo` to classify: other protocols, no Level.
        new = generate(inbox, SEED + 1, 9000, words)
        write(export, new, with_level=False)
        print(f"wrote {len(new)} unlabelled protocols to {export}")


if __name__ == "__main__":
    main()
