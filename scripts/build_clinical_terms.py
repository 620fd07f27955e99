"""Rebuild the text section's clinical vocabulary (``domain: clinical``) from WordNet 3.0 and the
lists curated below.

Usage: ``python scripts/build_clinical_terms.py [--wordnet /usr/share/wordnet] [--out
augcli/text/data/clinical-terms.tsv]`` (Debian/Ubuntu: ``apt-get install wordnet-base``). The
output is the same on every run: sorted ``term<TAB>category`` lines after comment lines.

From WordNet (Princeton's licence, shipped as ``augcli/text/data/WORDNET-LICENSE``): every lemma
of the body lexicographer file (``noun.body``: anatomy, tissues, fluids), and every lemma under
the synsets in ``ROOTS`` (diseases, disorders, symptoms, injuries, lesions, tumours,
infections, drugs and medicines, medical instruments), through hyponym and instance links. A
lemma is kept when it is lower case (no proper nouns), of letters, spaces, hyphens and
apostrophes, 3 characters or more and at most 4 words.

Curated here (public knowledge, written for augcli): findings a report names that WordNet files
elsewhere or spells otherwise (``pleural effusion``, ``ground-glass opacity``, ``oedema``), the
common abbreviations of findings, anatomy, tests and devices (``ct``, ``copd``, ``lll``, ``ett``),
devices and lines, and the words that carry a finding's certainty, severity, side and place
(``possible``, ``cannot exclude``, ``mild``, ``left``, ``bilateral``, ``upper``). Changing any of
them can change a label.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BODY_FILE = 8  # noun.body
ROOTS = {  # synset offset in data.noun -> category
    14070360: "finding",  # disease
    14061805: "finding",  # illness
    14052403: "finding",  # disorder: a disturbance of normal functioning
    14204950: "finding",  # pathology: any deviation from a healthy condition
    14304060: "finding",  # syndrome
    14299637: "finding",  # symptom
    14285662: "finding",  # injury
    14501726: "finding",  # abnormality
    14211294: "finding",  # lesion: an injury to living tissue
    14298815: "finding",  # lesion: a pathological change
    14235200: "finding",  # tumor
    14174549: "finding",  # infection
    14292090: "finding",  # fracture
    14336539: "finding",  # inflammation
    3247620: "drug",  # drug
    3740161: "drug",  # medicine, medication
    3739693: "device",  # medical instrument
}
WORD = re.compile(r"[a-z][a-z' -]*[a-z]\Z")
# body-file lemmas whose everyday sense is not the body's (a build, a figure, a case)
GENERAL = frozenset(
    ["build", "case", "figure", "form", "frame", "shape", "system", "anatomy", "physique"]
)

FINDINGS = """
pleural effusion|effusion|pericardial effusion|pneumothorax|hydropneumothorax|haemothorax
hemothorax|atelectasis|consolidation|opacity|opacities|ground-glass opacity|ground glass
infiltrate|infiltrates|nodule|mass|lesion|cyst|cavitation|cavity|calcification|granuloma
cardiomegaly|oedema|edema|pulmonary oedema|pulmonary edema|interstitial oedema|congestion
vascular congestion|fibrosis|emphysema|bronchiectasis|hyperinflation|hyperexpansion|collapse
air bronchogram|air-fluid level|air trapping|pleural thickening|pleural plaque|scarring|scar
pneumonia|aspiration|abscess|empyema|haemorrhage|hemorrhage|haematoma|hematoma|infarct
infarction|ischaemia|ischemia|thrombus|thrombosis|embolus|embolism|pulmonary embolism|aneurysm
dissection|stenosis|occlusion|narrowing|dilatation|dilation|enlargement|hypertrophy|atrophy
herniation|hernia|fracture|dislocation|subluxation|osteophyte|sclerosis|erosion|lysis|lytic
blastic|metastasis|metastases|malignancy|neoplasm|carcinoma|adenocarcinoma|lymphoma|sarcoma
tumour|tumor|polyp|stricture|obstruction|perforation|free air|pneumoperitoneum|ascites
hydronephrosis|calculus|calculi|stone|gallstone|cholelithiasis|cholecystitis|appendicitis
diverticulitis|colitis|steatosis|cirrhosis|splenomegaly|hepatomegaly|lymphadenopathy
adenopathy|mediastinal widening|pneumomediastinum|subcutaneous emphysema|kyphosis|scoliosis
spondylosis|degenerative change|degenerative changes|artefact|artifact|fluid|blunting
costophrenic angle blunting|silhouette sign|meniscus sign|tension pneumothorax|contusion
laceration|sprain|tear|rupture|oedematous|edematous|effusions|nodules|masses|lesions
"""
ANATOMY = """
lung|lungs|lobe|left lower lobe|left upper lobe|right lower lobe|right middle lobe
right upper lobe|lingula|apex|apices|base|bases|hilum|hila|hilar|mediastinum|pleura|pleural
diaphragm|hemidiaphragm|costophrenic angle|cardiophrenic angle|heart|cardiac|aorta|aortic
pericardium|ventricle|atrium|trachea|carina|bronchus|bronchi|airway|chest|thorax|thoracic
rib|ribs|clavicle|scapula|sternum|spine|vertebra|vertebrae|abdomen|abdominal|pelvis|liver
spleen|kidney|kidneys|renal|bladder|bowel|colon|stomach|pancreas|gallbladder|brain|skull
ventricles|cortex|white matter|grey matter|gray matter|breast|axilla|neck|shoulder|hip|knee
ankle|wrist|elbow|femur|tibia|humerus|soft tissue|soft tissues|bone|bones|joint|lymph node
lymph nodes|artery|vein|pulmonary artery|vessel|vessels|subpleural|perihilar|retrocardiac
"""
ABBREVIATIONS = """
ct|mri|mr|cxr|pa|ap|us|echo|ecg|ekg|eeg|pet|spect|cta|mra|dxa|copd|chf|cad|mi|cva|tia|dvt|pe
ards|uti|ckd|aki|htn|dm|afib|af|svt|vt|ptx|rll|rml|rul|lll|lul|llq|luq|rlq|ruq|icu|er|ed|ett
ngt|ng tube|og tube|picc|cvc|ij|svc|ivc|ett tube|icd|aicd|sob|cp|hr|bp|rr|spo2|ivf|abx|nsaid
"""
DEVICES = """
tube|line|catheter|central line|central venous catheter|endotracheal tube|tracheostomy
nasogastric tube|feeding tube|chest tube|drain|pigtail catheter|pacemaker|defibrillator
lead|leads|stent|clip|clips|coil|wire|sternotomy wires|prosthesis|implant|valve replacement
port|port-a-cath|shunt|filter|electrode|electrodes|staples|sutures|hardware|plate|screws
"""
DRUGS = """
aspirin|heparin|warfarin|insulin|morphine|furosemide|amoxicillin|vancomycin|ceftriaxone
piperacillin|metformin|prednisone|dexamethasone|salbutamol|albuterol|paracetamol
acetaminophen|ibuprofen|contrast|gadolinium|iodinated contrast|oxygen|antibiotics
"""
HEDGES = """
possible|possibly|probable|probably|likely|unlikely|suspected|suspicious|suspicious for
suggestive of|suggests|consistent with|compatible with|concerning for|cannot exclude
cannot be excluded|can not be excluded|not excluded|no evidence of|evidence of|question of
questionable|equivocal|indeterminate|borderline|uncertain|may represent|could represent
differential|versus|vs|presumed|apparent|apparently|definite|definitely|certain|certainly
new|old|chronic|acute|subacute|resolved|resolving|improved|improving|worsened|worsening
unchanged|stable|increased|decreased|persistent|interval|recurrent|residual
"""
SEVERITY = """
mild|mildly|moderate|moderately|severe|severely|marked|markedly|minimal|minor|trace|small
large|massive|extensive|diffuse|focal|multifocal|patchy|scattered|tiny|subtle|significant
"""
PLACE = """
left|right|bilateral|bilaterally|unilateral|upper|lower|middle|mid|anterior|posterior
lateral|medial|superior|inferior|proximal|distal|apical|basal|basilar|central|peripheral
ipsilateral|contralateral|dependent|left-sided|right-sided
"""
CURATED = {
    "finding": FINDINGS,
    "anatomy": ANATOMY,
    "abbreviation": ABBREVIATIONS,
    "device": DEVICES,
    "drug": DRUGS,
    "hedge": HEDGES,
    "severity": SEVERITY,
    "place": PLACE,
}


def read_synsets(path: Path) -> dict[int, tuple[int, list[str], list[int]]]:
    """offset -> (lexicographer file, lemmas, hyponym offsets) of ``data.noun``."""
    out = {}
    for line in path.read_text(encoding="latin-1").splitlines():
        if line.startswith("  "):
            continue
        fields = line.split(" | ")[0].split()
        offset, lexfile, count = int(fields[0]), int(fields[1]), int(fields[3], 16)
        lemmas = [fields[4 + 2 * k].replace("_", " ") for k in range(count)]
        k = 4 + 2 * count
        pointers, k = int(fields[k]), k + 1
        hyponyms = []
        for _ in range(pointers):
            symbol, target, pos = fields[k], int(fields[k + 1]), fields[k + 2]
            if symbol in ("~", "~i") and pos == "n":
                hyponyms.append(target)
            k += 4
        out[offset] = (lexfile, [re.sub(r"\(.*\)$", "", w) for w in lemmas], hyponyms)
    return out


def wordnet_terms(synsets: dict[int, tuple[int, list[str], list[int]]]) -> dict[str, str]:
    terms: dict[str, str] = {}
    for lexfile, lemmas, _ in synsets.values():
        if lexfile == BODY_FILE:
            terms.update({w: "anatomy" for w in lemmas if keep(w)})
    for root, category in ROOTS.items():
        seen, todo = set(), [root]
        while todo:
            offset = todo.pop()
            if offset in seen:
                continue
            seen.add(offset)
            _, lemmas, hyponyms = synsets[offset]
            for w in lemmas:
                if keep(w):
                    terms.setdefault(w, category)
            todo += hyponyms
    return terms


def keep(lemma: str) -> bool:
    return (
        lemma not in GENERAL
        and lemma == lemma.lower()
        and len(lemma) >= 3
        and len(lemma.split()) <= 4
        and WORD.match(lemma) is not None
    )


def build(wordnet: Path) -> list[str]:
    terms = wordnet_terms(read_synsets(wordnet / "data.noun"))
    for category, text in CURATED.items():
        for term in re.split(r"[|\n]", text):
            if term.strip():
                terms[term.strip()] = category  # curated categories win
    head = [
        "# augcli clinical vocabulary (domain: clinical): term<TAB>category, sorted.",
        "# Built by scripts/build_clinical_terms.py from WordNet 3.0 (Princeton University;",
        "# licence in WORDNET-LICENSE: noun.body and the hyponyms of diseases, disorders,",
        "# symptoms, injuries, lesions, tumours, infections, drugs, medical instruments) and",
        "# lists curated for augcli (findings, abbreviations, devices, certainty, severity, side).",
    ]
    return head + [f"{t}\t{c}" for t, c in sorted(terms.items())]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wordnet", type=Path, default=Path("/usr/share/wordnet"))
    parser.add_argument("--out", type=Path, default=ROOT / "augcli/text/data/clinical-terms.tsv")
    args = parser.parse_args()
    lines = build(args.wordnet)
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    counts: dict[str, int] = {}
    for line in lines[5:]:
        counts[line.split("\t")[1]] = counts.get(line.split("\t")[1], 0) + 1
    print(f"{args.out}: {len(lines) - 5} terms {counts}")


if __name__ == "__main__":
    main()
