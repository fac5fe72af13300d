"""Reads: how good are the annotators, and how much do they agree?

Per annotator: judgments, median time, agreement with the others on shared tasks, gold
accuracy, position bias (how often the first/left response wins), ties and skips, intransitive
cycles among their own choices, self-consistency on repeated pairs, length bias. Per
campaign: Krippendorff's alpha (the `krippendorff` package) for each thing judged, tie-aware
pairwise agreement, length bias, and agreement broken down by a profile field
(NLPositionality's question: whose judgments does the data represent?). Whom to look at is
said by tests with a stated error rate (`flags`), never by fixed thresholds.

Everything works on "answers": one annotator's value for one unit (a pair's outcome, one
response's score on one attribute, one label). Two annotators agree on a unit by
1 - |difference| / range, so on a pair a tie against a preference is half an agreement and
opposite preferences none (tie-aware agreement); nominal values agree when equal.
"""

from annotation.selectors.quality.agreement import (
    Alpha,
    GroupAgreement,
    PairAgreement,
    agreement_by_profile,
    alpha_from,
    campaign_alphas,
    pair_agreement,
)
from annotation.selectors.quality.annotators import (
    AnnotatorQuality,
    CampaignQuality,
    annotator_quality,
)
from annotation.selectors.quality.answers import (
    PAIR_CODES,
    Answer,
    Level,
    answers_of,
    pair_choices,
    pair_code,
    similarity,
)
from annotation.selectors.quality.flags import ALPHA, Finding, Flag
from annotation.selectors.quality.length import (
    LengthBias,
    length_bias,
    length_bias_from,
    message_lengths,
)
from annotation.selectors.quality.rows import (
    NO_ANSWER,
    JudgmentRow,
    Share,
    judgment_rows,
    profile_fields,
    profile_fields_counted,
    profile_value,
    without_flagged,
)

__all__ = [
    "ALPHA",
    "NO_ANSWER",
    "PAIR_CODES",
    "Alpha",
    "AnnotatorQuality",
    "Answer",
    "CampaignQuality",
    "Finding",
    "Flag",
    "GroupAgreement",
    "JudgmentRow",
    "LengthBias",
    "Level",
    "PairAgreement",
    "Share",
    "agreement_by_profile",
    "alpha_from",
    "annotator_quality",
    "answers_of",
    "campaign_alphas",
    "judgment_rows",
    "length_bias",
    "length_bias_from",
    "message_lengths",
    "pair_agreement",
    "pair_choices",
    "pair_code",
    "profile_fields",
    "profile_fields_counted",
    "profile_value",
    "similarity",
    "without_flagged",
]
