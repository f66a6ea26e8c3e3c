"""Write ``demo/protocols.csv``: illustrative protocols for the quickstart.

These are NOT real IRB protocols. They were composed for this project from phrase banks
that follow the CEnR codebook's descriptions of each level, so that a newcomer can train
and inspect a model in minutes. The shape is that of an IRB export: one protocol per
row, one column per field, an ID like HM20001234. Wording and length vary; higher
levels often also mention lower-level activities (a CBPR study also shares results),
as real protocols do, so the task is not a keyword lookup.

Run ``python demo/make_protocols.py`` to regenerate (seeded: same output every time).
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

PER_LEVEL = 30
SEED = 2026

TOPICS = [
    "type 2 diabetes",
    "hypertension",
    "childhood asthma",
    "opioid use disorder",
    "postpartum depression",
    "adolescent anxiety",
    "food insecurity",
    "HIV prevention",
    "colorectal cancer screening",
    "influenza vaccine uptake",
    "housing instability",
    "falls among older adults",
    "oral health",
    "sleep quality",
    "physical activity",
    "heat-related illness",
    "lead exposure",
    "smoking cessation",
    "medication adherence",
    "chronic pain",
    "maternal nutrition",
    "teen dating violence",
    "sickle cell disease",
]
POPULATIONS = [
    "older adults in rural counties",
    "Black women",
    "Latino families",
    "veterans",
    "college students",
    "refugee families",
    "middle school students",
    "people experiencing homelessness",
    "adults with limited English proficiency",
    "caregivers of people with dementia",
    "low-income households",
    "farmworkers",
    "residents of public housing",
    "young fathers",
]
ORGS = [
    "the Eastside Family Resource Center",
    "Riverside Free Clinic",
    "the Northside YMCA",
    "Hope Street Food Pantry",
    "the Latino Health Coalition",
    "First Baptist Church",
    "the county public library",
    "Greater Richmond Senior Services",
    "the Refugee Welcome Network",
    "Southside Neighborhood Association",
    "the Tenant Union of Fairfield Court",
    "a local barbershop network",
    "the Boys and Girls Club",
    "Mountain Area Health Alliance",
]
INTERNAL = [
    "the Department of Pharmacotherapy",
    "the School of Social Work",
    "the Massey Cancer Center",
    "the Department of Biostatistics",
    "the university Office of Health Innovation",
    "the School of Nursing",
    "the Department of Family Medicine",
]
SYSTEMS = [
    "Bon Secours Health System",
    "the regional Veterans Affairs medical center",
    "the state Department of Health",
    "a neighbouring research university",
    "a national contract research organisation",
    "the county health department",
]
METHODS = [
    "a cross-sectional survey",
    "a randomized controlled trial",
    "a retrospective chart review",
    "semi-structured interviews",
    "focus groups",
    "a mixed-methods design",
    "a secondary analysis of existing data",
    "a pilot feasibility study",
    "a cohort study",
]
FILLER = [
    "{topic} remains a leading contributor to preventable illness among {population}.",
    "Prior studies report wide disparities in {topic} outcomes by income, race and place.",
    "Few interventions addressing {topic} have been tested with {population}.",
    "We will use {method} to answer the research questions.",
    "Participants will complete questionnaires at baseline, three months and six months.",
    "Descriptive statistics will summarise participant characteristics.",
    "Mixed-effects regression models will estimate change over time.",
    "Qualitative data will be coded thematically by two trained analysts.",
    "All data will be stored on encrypted university servers with access limited to study staff.",
    "Participants will receive a gift card in appreciation of their time.",
    "The primary outcome is the change in self-reported {topic} management.",
    "Secondary outcomes include quality of life, health care use and costs.",
    "Eligible participants are adults aged 18 or older who speak English or Spanish.",
    "Informed consent will be obtained before any study procedures begin.",
    "We anticipate enrolling approximately {n} participants over eighteen months.",
    "Power calculations indicate adequate power to detect a moderate effect.",
    "Risks are minimal and limited to possible discomfort answering sensitive questions.",
    "Missing data will be handled with multiple imputation.",
    "The findings will be submitted to peer-reviewed journals and scientific conferences.",
    "The study team has experience conducting research on {topic}.",
]

LEVEL_TITLES = {
    0: [
        "Biomarkers of {topic} in a clinical cohort",
        "A laboratory study of {topic}",
        "Retrospective analysis of {topic} outcomes",
        "Predictors of {topic} in electronic records",
    ],
    1: [
        "Evaluation of the {topic} program for {system}",
        "Contracted assessment of {topic} services",
        "Cross-department study of {topic}",
        "Outcomes of a {topic} initiative at {system}",
    ],
    2: [
        "Recruiting {population} for a study of {topic}",
        "{topic} among clients of community agencies",
        "Using agency records to study {topic}",
        "A clinic-based survey of {topic}",
    ],
    3: [
        "A community-based study of {topic} among {population}",
        "{topic} in our neighbourhoods",
        "Understanding {topic} with {population}",
        "Community perspectives on {topic}",
    ],
    4: [
        "Advisory board guided study of {topic}",
        "Community-informed research on {topic}",
        "Working with {population} to study {topic}",
        "Community health workers and {topic}",
    ],
    5: [
        "A CBPR partnership addressing {topic}",
        "Shared governance research on {topic} with {population}",
        "Co-led research on {topic}",
        "Community and academic partners tackling {topic}",
    ],
}

LEVEL_PARTNERS = {
    0: [
        "No community partners are involved in this study.",
        "Not applicable.",
        "None. This is a single-site academic study.",
        "No partnership; the study uses existing records only.",
        "There are no external partners.",
        "No community organisation is involved.",
    ],
    1: [
        "The study is conducted under a contract with {system} to evaluate its program.",
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
        "We will disseminate findings to the community through newsletters and social media.",
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
        "The director of {org} is a co-investigator and shares decision-making on all aspects of the study.",
        "Research questions were developed jointly by {org} and the academic team, who share governance.",
        "Community partners co-lead the project and hold equal votes on the steering committee.",
        "Shared decision-making governs design, analysis and dissemination through a partnership committee.",
    ],
}


def fill(template: str, rng: random.Random, context: dict[str, str]) -> str:
    values = {
        "topic": context["topic"],
        "population": context["population"],
        "org": rng.choice(ORGS),
        "internal": rng.choice(INTERNAL),
        "system": rng.choice(SYSTEMS),
        "method": rng.choice(METHODS),
        "n": str(rng.randrange(40, 600, 10)),
    }
    text = template.format(**values)
    return text[0].upper() + text[1:]


def paragraph(rng: random.Random, context: dict[str, str], low: int, high: int) -> list[str]:
    return [fill(t, rng, context) for t in rng.sample(FILLER, rng.randint(low, high))]


def protocol(level: int, rng: random.Random, number: int) -> dict[str, str]:
    context = {"topic": rng.choice(TOPICS), "population": rng.choice(POPULATIONS)}
    cues = [fill(t, rng, context) for t in rng.sample(LEVEL_PARTNERS[level], rng.randint(1, 3))]
    # Higher levels often also do what lower levels do (share results, recruit through partners).
    if level >= 3 and rng.random() < 0.5:
        cues.append(fill(rng.choice(LEVEL_PARTNERS[rng.choice(range(2, level))]), rng, context))
    rng.shuffle(cues)
    # Some evidence sits in the design text rather than the partners field, as in real exports.
    design_cues = cues[1:] if len(cues) > 1 and rng.random() < 0.6 else []
    partner_cues = [c for c in cues if c not in design_cues]
    length = rng.choice([(1, 3), (2, 6), (4, 12), (8, 20)])
    design = paragraph(rng, context, *length) + design_cues
    rng.shuffle(design)
    return {
        "Protocol ID": f"HM2{number:07d}",
        "StudyTitle": fill(rng.choice(LEVEL_TITLES[level]), rng, context),
        "AimsGoals": " ".join(paragraph(rng, context, 1, 4)),
        "Background": " ".join(paragraph(rng, context, *length)),
        "StudyDesign": " ".join(design),
        "Partners": " ".join(partner_cues),
        "Level": str(level),
    }


def main() -> None:
    rng = random.Random(SEED)
    rows = [
        protocol(level, rng, 7000 + 97 * i + level) for level in range(6) for i in range(PER_LEVEL)
    ]
    rng.shuffle(rows)
    target = Path(__file__).with_name("protocols.csv")
    with target.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {len(rows)} protocols to {target}")

    # A new quarter's export for `make demo` to classify: other protocols, no Level column.
    inbox_rng = random.Random(SEED + 1)
    new = [
        protocol(level, inbox_rng, 9000 + 89 * i + level) for level in range(6) for i in range(8)
    ]
    inbox_rng.shuffle(new)
    inbox = target.with_name("inbox")
    inbox.mkdir(exist_ok=True)
    export = inbox / "irb_export_2026q3.csv"
    with export.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=[k for k in new[0] if k != "Level"])
        writer.writeheader()
        writer.writerows({k: v for k, v in row.items() if k != "Level"} for row in new)
    print(f"wrote {len(new)} unlabelled protocols to {export}")


if __name__ == "__main__":
    main()
