"""The built-in tasks: SentEval's STS and transfer datasets, one record each.

Files are relative to SentEval's ``downstream`` folder; sizes are the pairs / samples that
SentEval's loaders keep (pairs with an empty gold line are dropped from STS12-16). Citations
are the dataset papers SentEval and the SimCSE paper (Gao et al., 2021, section 4 and
appendix E) cite.
"""

from __future__ import annotations

from bench.data.sts import ColumnsReader, PooledColumnsReader, StsYearReader
from bench.tasks.metadata import TaskMetadata
from bench.tasks.transfer import (
    BinaryReader,
    SplitFilesReader,
    read_mrpc_file,
    read_sst2_file,
    read_trec_file,
)

BUILTIN: list[TaskMetadata] = []  # registered in this order by bench.tasks.registry

_STS_YEARS = {
    "STS12": (("MSRpar", "MSRvid", "SMTeuroparl", "surprise.OnWN", "surprise.SMTnews"),
              3108, "Agirre et al. (2012). SemEval-2012 Task 6: A pilot on semantic textual "
              "similarity. *SEM."),
    "STS13": (("FNWN", "headlines", "OnWN"), 1500,
              "Agirre et al. (2013). *SEM 2013 shared task: Semantic textual similarity. *SEM."),
    "STS14": (("deft-forum", "deft-news", "headlines", "images", "OnWN", "tweet-news"), 3750,
              "Agirre et al. (2014). SemEval-2014 Task 10: Multilingual semantic textual "
              "similarity. SemEval."),
    "STS15": (("answers-forums", "answers-students", "belief", "headlines", "images"), 3000,
              "Agirre et al. (2015). SemEval-2015 Task 2: Semantic textual similarity, "
              "English, Spanish and pilot on interpretability. SemEval."),
    "STS16": (("answer-answer", "headlines", "plagiarism", "postediting", "question-question"),
              1186, "Agirre et al. (2016). SemEval-2016 Task 1: Semantic textual similarity, "
              "monolingual and cross-lingual evaluation. SemEval."),
}
# Measured with bench (docs/explanation/research-notes.md, "Near-ties"): pairs whose two
# sentences are identical have cosine 1 up to rounding, so their Spearman ranks are decided by
# float noise.
_NOTES = {"STS12": (
    "near-ties: STS12 SMTeuroparl has 65 and surprise.SMTnews 14 pairs of identical "
    "sentences, whose cosine is 1 up to float rounding (1 +- 2e-16); Spearman ranks them by "
    "that noise, which changes with batch size, hardware and precision. Measured with "
    "all-MiniLM-L6-v2 (batch sizes 1 to 256): the two subsets move by 0.006 and 0.05 points, "
    "and lie 0.075-0.081 and 0.01-0.04 points from a ranking that ties those pairs (cosines "
    "rounded to 1e-6); STS12 mean/wmean move by about 0.01 and lie up to 0.02 from it. Treat "
    "STS12 differences of that size as noise (any tool: SentEval, MTEB, bench).",)}
for _name, (_subsets, _pairs, _cite) in _STS_YEARS.items():
    BUILTIN.append(TaskMetadata(
        name=_name, family="sts", reader=StsYearReader(f"STS/{_name}-en-test", _subsets),
        aliases=(_name.replace("STS", "STS20"),), parts=_subsets, eval_parts=_subsets,
        score_range=(0.0, 5.0), sizes={"pairs": _pairs}, citation=_cite,
        description=f"SemEval {_name} English test subsets; gold 0-5",
        notes=_NOTES.get(_name, ())))

BUILTIN.append(TaskMetadata(
    name="STSBenchmark", family="sts", display_name="STS-B", aliases=("STS-B", "STSB"),
    reader=ColumnsReader((("train", "STS/STSBenchmark/sts-train.csv"),
                          ("dev", "STS/STSBenchmark/sts-dev.csv"),
                          ("test", "STS/STSBenchmark/sts-test.csv")), s1=5, s2=6, score=4),
    parts=("train", "dev", "test"), eval_parts=("test",), train_split="train",
    dev_split="dev", score_range=(0.0, 5.0),
    sizes={"train": 5749, "dev": 1500, "test": 1379},
    citation="Cer et al. (2017). SemEval-2017 Task 1: Semantic textual similarity "
             "multilingual and crosslingual focused evaluation. SemEval.",
    description="STS Benchmark; score in column 5, sentences in columns 6-7"))

BUILTIN.append(TaskMetadata(
    name="SICKRelatedness", family="sts", display_name="SICK-R",
    aliases=("SICK-R", "SICKR", "SICK"),
    reader=ColumnsReader((("train", "SICK/SICK_train.txt"), ("dev", "SICK/SICK_trial.txt"),
                          ("test", "SICK/SICK_test_annotated.txt")),
                         s1=1, s2=2, score=3, header=True),
    parts=("train", "dev", "test"), eval_parts=("test",), train_split="train",
    dev_split="dev", score_range=(1.0, 5.0),
    sizes={"train": 4500, "dev": 500, "test": 4927}, corpus="SICK",
    citation="Marelli et al. (2014). A SICK cure for the evaluation of compositional "
             "distributional semantic models. LREC.",
    description="SICK relatedness (SentEval's split: the trial file is dev)"))

# MTEB's SICK-R (mteb/tasks/sts/eng/sickr_sts.py, dataset mteb/sickr-sts): every pair of the
# corpus in one test split, so it is not SentEval's SICK-R (4,927 test pairs) and has its own
# record: compare never puts the two side by side as one task.
BUILTIN.append(TaskMetadata(
    name="SICKRelatednessAll", family="sts", display_name="SICK-R-all",
    aliases=("SICK-R-all", "SICKR-all", "SICK-all"),
    reader=PooledColumnsReader(("SICK/SICK_train.txt", "SICK/SICK_trial.txt",
                                "SICK/SICK_test_annotated.txt"),
                               s1=1, s2=2, score=3, header=True),
    parts=("all",), eval_parts=("all",), score_range=(1.0, 5.0), sizes={"all": 9927},
    listed=False, corpus="SICK",
    citation="Marelli et al. (2014). A SICK cure for the evaluation of compositional "
             "distributional semantic models. LREC.",
    description="SICK relatedness over all 9,927 pairs (train + trial + test), as MTEB "
                "scores SICK-R; not SentEval's SICK-R (its 4,927 test pairs)"))

_BINARY = {
    "MR": ("MR/rt-polarity.pos", "MR/rt-polarity.neg", 10662,
           "Pang and Lee (2005). Seeing stars. ACL."),
    "CR": ("CR/custrev.pos", "CR/custrev.neg", 3775,
           "Hu and Liu (2004). Mining and summarizing customer reviews. KDD."),
    "SUBJ": ("SUBJ/subj.objective", "SUBJ/subj.subjective", 10000,
             "Pang and Lee (2004). A sentimental education. ACL."),
    "MPQA": ("MPQA/mpqa.pos", "MPQA/mpqa.neg", 10606,
             "Wiebe et al. (2005). Annotating expressions of opinions and emotions in "
             "language. Language Resources and Evaluation."),
}
for _name, (_pos, _neg, _n, _cite) in _BINARY.items():
    BUILTIN.append(TaskMetadata(
        name=_name, family="transfer", reader=BinaryReader(_pos, _neg), parts=("all",),
        eval_parts=("all",), sizes={"all": _n}, citation=_cite,
        description="binary classification, nested stratified k-fold"))

BUILTIN.append(TaskMetadata(
    name="SST2", family="transfer", display_name="SST", aliases=("SST", "SST-2"),
    reader=SplitFilesReader(tuple((s, f"SST/binary/sentiment-{s}")
                                  for s in ("train", "dev", "test")),
                            read_sst2_file, "split", 2),
    parts=("train", "dev", "test"), train_split="train", dev_split="dev",
    sizes={"train": 67349, "dev": 872, "test": 1821},
    citation="Socher et al. (2013). Recursive deep models for semantic compositionality over "
             "a sentiment treebank. EMNLP.",
    description="binary sentiment, given splits"))

BUILTIN.append(TaskMetadata(
    name="TREC", family="transfer",
    reader=SplitFilesReader((("train", "TREC/train_5500.label"), ("test", "TREC/TREC_10.label")),
                            read_trec_file, "kfold", 6),
    parts=("train", "test"), train_split="train", sizes={"train": 5452, "test": 500},
    citation="Li and Roth (2002). Learning question classifiers. COLING.",
    description="6 question types, k-fold on train then test"))

BUILTIN.append(TaskMetadata(
    name="MRPC", family="transfer",
    reader=SplitFilesReader((("train", "MRPC/msr_paraphrase_train.txt"),
                             ("test", "MRPC/msr_paraphrase_test.txt")),
                            read_mrpc_file, "kfold", 2),
    parts=("train", "test"), train_split="train", sizes={"train": 4076, "test": 1725},
    metrics=("f1",),
    citation="Dolan et al. (2004). Unsupervised construction of large paraphrase corpora. "
             "COLING.",
    description="paraphrase pairs ([|u-v|, u*v] features), k-fold on train then test"))
