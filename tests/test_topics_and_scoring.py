"""Topics files and the scorer, on the real model and the committed seed topics."""

from __future__ import annotations

from dataclasses import field, replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from models.encoder import load_encoder
from models.relevance import load_seed_models
from models.scoring import Scorer
from models.seeding import article_title, build_topic_set
from models.topics import Topic, TopicSet, load_seed_topics, load_topics, save_topics, write_thresholds
from newsmon.config import PROJECT_ROOT
from newsmon.errors import ConfigError
from newsmon.story import Story, story_id

SEEDS = PROJECT_ROOT / "seeds"
NOW = datetime(2026, 4, 1, tzinfo=UTC)


def _story(title: str, summary: str = "") -> Story:
    return Story(
        id=story_id(f"https://example.com/{abs(hash(title))}"),
        title=title,
        url="https://example.com/",
        summary=summary,
        published=NOW,
        fetched=NOW,
        feed_id="f",
        feed_title="F",
        feed_url="",
    )


@pytest.fixture(scope="module")
def scorer() -> Scorer:
    topic_sets = load_seed_topics(SEEDS)
    models, warnings = load_seed_models(SEEDS, topic_sets)
    assert warnings == []  # the committed model was trained on the committed topics
    return Scorer(topic_sets, load_encoder("torch"), models)


def test_committed_topics_file_loads_with_the_six_design_topics() -> None:
    (topic_set,) = load_seed_topics(SEEDS)
    assert topic_set.seed == "huawei-korea-chips"
    assert len(topic_set.topics) == 6
    assert all(t.exemplars and t.keywords and 0 < t.threshold < 1 for t in topic_set.topics)


def test_topics_round_trip_and_bad_files_name_the_problem(tmp_path: Path) -> None:
    (topic_set,) = load_seed_topics(SEEDS)
    save_topics(topic_set, tmp_path / "x.topics.yaml")
    assert load_topics(tmp_path / "x.topics.yaml") == topic_set
    (tmp_path / "bad.topics.yaml").write_text("seed: Bad Slug\ntopics: []\n")
    with pytest.raises(ConfigError, match=r"bad\.topics\.yaml"):
        load_topics(tmp_path / "bad.topics.yaml")
    with pytest.raises(ConfigError, match="seeds build"):
        load_seed_topics(tmp_path / "empty")


def test_writing_thresholds_keeps_comments_and_everything_else(tmp_path: Path) -> None:
    path = tmp_path / "x.topics.yaml"
    path.write_text((SEEDS / "huawei-korea-chips.topics.yaml").read_text())
    before = load_topics(path)
    write_thresholds(path, {"huawei-5g-europe": 0.9, "huawei-rnd-ai": 0.125})
    after = load_topics(path)
    assert {
        t.id: t.threshold for t in after.topics if t.threshold != {b.id: b.threshold for b in before.topics}[t.id]
    } == {"huawei-5g-europe": 0.9, "huawei-rnd-ai": 0.125}
    assert [replace(t, threshold=0.5) for t in after.topics] == [replace(t, threshold=0.5) for t in before.topics]
    assert path.read_text().startswith("# Topics of seeds/huawei-korea-chips.txt")
    with pytest.raises(ConfigError, match="no-such-topic"):
        write_thresholds(path, {"no-such-topic": 0.5})


def test_relevant_headlines_outrank_unrelated_ones_and_carry_evidence(scorer: Scorer) -> None:
    relevant = _story("US move to bar Chinese chips seen as boon to Samsung, SK Hynix")
    unrelated = _story("Barclays initiates coverage of ON Semiconductor with equal-weight rating")
    (rel,), (unrel,) = scorer.assess([relevant, unrelated])
    assert rel.relevance > unrel.relevance + 0.3
    matches = scorer.matches([relevant, unrelated])
    assert [m.story.id for m in matches] == [relevant.id]
    match = matches[0]
    assert match.relevance == rel.relevance >= match.threshold == rel.primary.threshold
    best = match.topics[0]
    assert best == rel.primary and best.evidence.story_sentence == relevant.title
    assert best.evidence.seed_sentence in {e for t in scorer.topic_sets[0].topics for e in t.exemplars}
    assert set(best.evidence.keywords) <= {k for t in scorer.topic_sets[0].topics for k in t.keywords}
    assert [t.contribution for t in match.topics[1:]] == sorted(
        (t.contribution for t in match.topics[1:]), reverse=True
    )
    assert all(t.contribution > 0 and t.score >= best.score - 0.1 for t in match.topics[1:])


def test_the_story_sentence_that_matched_is_named_even_when_it_is_in_the_summary(scorer: Scorer) -> None:
    story = _story(
        "Weekly roundup: five things to know",
        "Markets were mixed on Monday. Huawei unveiled a new Ascend AI chip despite US sanctions.",
    )
    (assessment,) = scorer.assess([story])[0]
    evidence = assessment.primary.evidence
    assert evidence.story_sentence == "Huawei unveiled a new Ascend AI chip despite US sanctions."
    assert "Huawei" in evidence.keywords or "Ascend" in evidence.keywords


def test_scores_are_deterministic_and_each_topic_threshold_decides(scorer: Scorer) -> None:
    story = _story("Huawei unveils new Ascend AI chip despite US sanctions")
    (first,) = scorer.assess([story])[0]
    assert first == scorer.assess([story])[0][0]
    # batch neighbours change padding, so floats may move in the 7th digit, never the reading
    neighbour = scorer.assess([_story("Barclays rates ON Semi"), story])[1][0]
    assert neighbour.relevance == pytest.approx(first.relevance, abs=2e-4)
    assert neighbour.values == pytest.approx(first.values, abs=1e-5)
    assert (neighbour.primary.topic_id, neighbour.primary.evidence) == (first.primary.topic_id, first.primary.evidence)
    primary = first.primary.topic_id
    for threshold, expected in ((first.relevance - 1e-3, True), (first.relevance + 1e-3, False)):
        topic_set = _with_threshold(scorer.topic_sets[0], primary, threshold)
        rescored = Scorer([topic_set], scorer.encoder, scorer.models)
        assert bool(rescored.matches([story])) is expected
        assert rescored.assess([story])[0][0].matched is expected


def _with_threshold(topic_set: TopicSet, topic_id: str, threshold: float) -> TopicSet:
    topics = tuple(replace(t, threshold=threshold) if t.id == topic_id else t for t in topic_set.topics)
    return replace(topic_set, topics=topics)


def test_exclusions_pull_relevance_down_and_are_shown() -> None:
    base = TopicSet(
        "s",
        "Seed",
        (
            Topic(
                "chips",
                "Chips",
                "",
                ("Huawei builds AI chips",),
                ("Huawei",),
                ("Huawei shares rise on the stock market",),
            ),
        ),
    )
    encoder = load_encoder("torch")
    stock = _story("Huawei supplier shares rise on the stock market")
    with_exclusion = Scorer([base], encoder).assess([stock])[0][0]
    without = Scorer([replace(base, topics=(replace(base.topics[0], exclusions=()),))], encoder).assess([stock])[0][0]
    assert with_exclusion.relevance < without.relevance
    assert with_exclusion.primary.evidence.exclusion == "Huawei shares rise on the stock market"
    assert with_exclusion.primary.evidence.exclusion_similarity > 0.5
    assert without.primary.evidence.exclusion == ""


def test_seeds_build_derives_named_topics_from_the_article() -> None:
    article = (SEEDS / "huawei-korea-chips.txt").read_text()
    topic_set = build_topic_set("huawei-korea-chips", article, load_encoder("torch"), max_topics=6)
    assert 2 <= len(topic_set.topics) <= 6
    assert "Korean chip firms" in topic_set.title
    exemplars = [e for t in topic_set.topics for e in t.exemplars]
    assert len(exemplars) == len(set(exemplars)) and all(e in article for e in exemplars)
    assert all(t.name and t.keywords for t in topic_set.topics)


MEMORY_ARTICLE = PROJECT_ROOT / "tests" / "fixtures" / "headlines" / "memory-supercycle" / "memory-chip-supercycle.txt"


def test_generated_topics_name_specific_phrases_whole_never_chatter() -> None:
    """Key phrases a reviewer would keep: names whole ("SK Hynix", never "SK" or "hynix" alone), acronyms,
    and no reporting or hedging words, however rarely headlines use them."""
    from models.seeding import _VAGUE

    topic_set = build_topic_set("memory", MEMORY_ARTICLE.read_text(), load_encoder("torch"), max_topics=6)
    keywords = [k for t in topic_set.topics for k in t.keywords]
    assert "SK Hynix" in keywords and "HBM" in keywords
    assert not {"SK", "hynix", "Hynix"} & set(keywords)
    assert not {w.lower() for k in keywords for w in k.split()} & _VAGUE
    assert all(t.threshold == topic_set.topics[0].threshold for t in topic_set.topics)


def test_a_story_is_never_its_own_labelled_neighbour() -> None:
    from models.scoring import neighbour_evidence

    vectors = load_encoder("torch").encode(["SK Hynix sells out HBM", "Samsung wins Nvidia HBM deal", "Rain in Oslo"])
    titles = ["SK Hynix sells out HBM", "Samsung wins Nvidia HBM deal", "Rain in Oslo"]
    core, other = neighbour_evidence(vectors, titles, vectors, [t.upper() for t in titles], [2, 2, 0])
    assert all(c < 0.99 for c in core) and other[2] < 0.99  # the identical headline (any case) is left out
    assert core[0] == pytest.approx(float(vectors[0] @ vectors[1]), abs=1e-5)
    assert other[0] == pytest.approx(float(vectors[0] @ vectors[2]), abs=1e-5)
    twice = neighbour_evidence(vectors[[0, 0]], [titles[0]] * 2, vectors, titles, [2, 2, 0])
    # a title twice in a batch: neither copy is its own neighbour
    assert list(twice[0]) == pytest.approx([core[0], core[0]], abs=1e-5)


def test_a_batch_reads_every_story_exactly_as_it_would_read_it_alone(scorer: Scorer) -> None:
    """Seeds read a whole batch with matrix operations: no story's sentences, evidence or relevance may leak
    into its neighbour's. Every text keeps one embedding here, so only the arithmetic could differ."""
    import numpy as np

    from models.scoring import story_sentences

    stories = [
        _story("Huawei unveils new Ascend AI chip despite US sanctions"),
        _story("Rain expected in Oslo", "Huawei unveiled a new Ascend AI chip despite US sanctions. Markets shrugged."),
        _story("Samsung, SK Hynix shares jump as HBM demand soars", "Memory prices rose. Analysts see a long upcycle."),
        _story("Barclays initiates coverage of ON Semiconductor with equal-weight rating"),
        _story("Huawei unveils new Ascend AI chip despite US sanctions"),  # the same title again
        _story("US tightens export controls on chipmaking tools to China", "A. B. The Commerce Department acted."),
    ]
    texts = [t for s in stories for t in story_sentences(s)]
    known = dict(zip(texts, scorer.encoder.encode(texts), strict=True))
    real = scorer.encoder

    class Fixed:
        name, backend, dimension = real.name, real.backend, real.dimension

        def encode(self, batch: list[str], *args: object, **kwargs: object) -> np.ndarray:
            return np.stack([known[t] for t in batch])

    from models.relevance import feature_names

    # seed.stream (last) is meant to read the batch: the stories it shows of the seed count for the others; the
    # committed model does not read it
    stream = feature_names(scorer.topic_sets[0]).index("seed.stream")
    assert stream == len(feature_names(scorer.topic_sets[0])) - 1 and not scorer.streams
    scorer.encoder = Fixed()  # type: ignore[assignment]
    try:
        together, titles = scorer.assess_with_titles(stories)
        alone = [scorer.assess([story])[0] for story in stories]
    finally:
        scorer.encoder = real
    for story, batch_row, alone_row, title in zip(stories, together, alone, titles, strict=True):
        assert np.array_equal(title, known[story.title])
        for mine, single in zip(batch_row, alone_row, strict=True):
            assert mine.relevance == pytest.approx(single.relevance, abs=1e-4)
            assert mine.values[:stream] == pytest.approx(single.values[:stream], abs=1e-5)
            assert (mine.primary.topic_id, mine.matched) == (single.primary.topic_id, single.matched)
            assert [t.evidence for t in mine.topics] == [t.evidence for t in single.topics]
    assert together[1][0].primary.evidence.story_sentence.startswith("Huawei unveiled")  # from its own summary


def test_a_second_seed_dropped_in_matches_its_own_stories_beside_the_first(tmp_path: Path) -> None:
    """What a user does: drop a second article into seeds/, run 'seeds build', and both seeds alert, each on its
    own news (the memory seed with the transfer model, Huawei with its trained one)."""
    import shutil

    from models.seeding import build_seeds

    for name in ("huawei-korea-chips.txt", "huawei-korea-chips.topics.yaml", "huawei-korea-chips.model.json"):
        shutil.copy(SEEDS / name, tmp_path / name)
    shutil.copy(MEMORY_ARTICLE, tmp_path / MEMORY_ARTICLE.name)
    encoder = load_encoder("torch")
    built = {b.article.stem: b.topics for b in build_seeds(tmp_path, lambda: encoder)}
    assert built == {"huawei-korea-chips": None, "memory-chip-supercycle": 6}  # the reviewed file is kept
    topic_sets = load_seed_topics(tmp_path)
    scorer = Scorer(topic_sets, encoder, load_seed_models(tmp_path, topic_sets)[0])
    stories = [
        _story("SK Hynix sells out its 2027 HBM supply as memory chip prices soar"),
        _story("US adds Huawei chip affiliates to the entity list in new export curbs"),
        _story("Premier League: Arsenal beat Chelsea 2-0"),
    ]
    matched = [{a.topic_set.seed for a in row if a.matched} for row in scorer.assess(stories)]
    assert matched == [{"memory-chip-supercycle"}, {"huawei-korea-chips"}, set()]


@pytest.mark.parametrize(
    ("article", "title"),
    [
        ("Chips Act passes\nThe Senate passed the bill on Tuesday, after a long debate.\n", "Chips Act passes"),
        (
            "TSMC opens its first fab in Arizona\nThe plant, long delayed, starts production.\n",
            "TSMC opens its first fab in Arizona",
        ),
        (
            "Huawei\nHuawei intends to resume business with Korean chip firms\nA new report states it.\n",
            "Huawei intends to resume business with Korean chip firms",
        ),
        ("\n\n  Memory prices soar again  \nBody.\n", "Memory prices soar again"),
        ("", "the-seed-id"),
    ],
)
def test_a_seeds_title_is_its_headline_never_its_first_paragraph(article: str, title: str) -> None:
    assert article_title(article, "the-seed-id") == title


def test_a_judged_batch_embeds_each_text_once_and_keeps_the_matched_titles_embeddings(scorer: Scorer) -> None:
    from types import SimpleNamespace

    from newsmon.pipeline import judge

    relevant = _story("US move to bar Chinese chips seen as boon to Samsung, SK Hynix", "Shares rose. Analysts agreed.")
    unrelated = _story("Barclays initiates coverage of ON Semiconductor with equal-weight rating")
    real, encoded = scorer.encoder, []

    def counting(texts: list[str], *args: object, **kwargs: object) -> object:
        encoded.extend(texts)
        return real.encode(texts, *args, **kwargs)  # type: ignore[arg-type]

    scorer.encoder = SimpleNamespace(encode=counting, name=real.name, backend=real.backend)  # type: ignore[assignment]
    try:
        verdicts = judge(scorer, [relevant, unrelated])
    finally:
        scorer.encoder = real
    assert sorted(encoded) == sorted([relevant.title, "Shares rose.", "Analysts agreed.", unrelated.title])
    assert set(verdicts.title_vectors) == {relevant.id}
    fresh = real.encode([relevant.title])[0]
    assert float(verdicts.title_vectors[relevant.id] @ fresh) > 0.9999  # the unit embedding grouping used to make


def test_only_the_close_calls_are_decided_again_by_the_confirming_scorer(scorer: Scorer) -> None:
    """A confirmation re-reads exactly the stories the first scorer decided within its band, with its own
    encoder and what the batch showed of each seed (the first reading's stream picks, their titles embedded again
    by its encoder), and their verdicts and title vectors become its; every other story keeps the first
    reading."""
    import numpy as np

    from models.scoring import Confirmation, story_sentences

    stories = [
        _story("US move to bar Chinese chips seen as boon to Samsung, SK Hynix", "Shares rose. Analysts agreed."),
        _story("Huawei unveils new Ascend AI chip despite US sanctions"),
        _story("Samsung, SK Hynix shares jump as HBM demand soars"),
        _story("Barclays initiates coverage of ON Semiconductor with equal-weight rating"),
        _story("Rain expected in Oslo"),
    ]
    first, first_titles = scorer.assess_with_titles(stories)
    seen = scorer.picks(stories, first, first_titles)
    assert seen[scorer.seeds[0]].ids  # the prior below reads seed.stream: the picks count in the confirmation
    margins = sorted(abs(per_seed[0].margin) for per_seed in first)
    band = (margins[1] + margins[2]) / 2  # two stories within it, three beyond
    close = [i for i, per_seed in enumerate(first) if abs(per_seed[0].margin) < band]
    real, encoded = scorer.encoder, []

    def counting(texts: list[str], *args: object, **kwargs: object) -> object:
        encoded.extend(texts)
        return real.encode(texts, *args, **kwargs)  # type: ignore[arg-type]

    from types import SimpleNamespace

    spy = SimpleNamespace(encode=counting, encode_kept=real.encode_kept, name=real.name, backend="x", dimension=384)
    exact = Scorer(scorer.topic_sets, real, background=scorer.background)  # another model: the prior
    exact.encoder = spy  # type: ignore[assignment]
    confirmed = Scorer(scorer.topic_sets, real, scorer.models, background=scorer.background)
    confirmed.confirm = Confirmation(exact, band)
    assessed, titles = confirmed.assess_with_titles(stories)
    assert len(close) == 2
    picks = seen[scorer.seeds[0]].titles
    assert sorted(encoded) == sorted([*picks, *(t for i in close for t in story_sentences(stories[i]))])
    seen = exact.reread(seen)  # as the confirmation read the picks (kept: nothing is embedded again)
    assert len(encoded) == len(picks) + sum(len(story_sentences(stories[i])) for i in close)
    for i, story in enumerate(stories):
        expected = exact.assess_with_titles([story], stream=seen)[0][0] if i in close else first[i]
        assert [(a.relevance, a.primary.topic_id, a.matched) for a in assessed[i]] == [
            (a.relevance, a.primary.topic_id, a.matched) for a in expected
        ]
        assert np.allclose(titles[i], real.encode([story.title])[0], atol=1e-5)
    assert confirmed.only(scorer.seeds[0]).confirm is not None  # one seed alone keeps its confirmation


def test_seed_embeddings_are_kept_on_disk_exactly_and_never_read_stale(tmp_path: Path) -> None:
    """A process loading a seed reads its exemplars' vectors from the file an earlier one kept instead of
    embedding them again; other texts, another batch size or another graph never read that file; a torn file
    is embedded again."""
    from dataclasses import dataclass

    import numpy as np

    from models.encoder import Encoder

    real = load_encoder("torch")

    @dataclass(frozen=True)
    class Counting:
        identity: str
        batch_size: int = 64
        calls: list[int] = field(default_factory=list)

        @property
        def dimension(self) -> int:
            return real.dimension

        def embed(self, texts: list[str], batch_size: int) -> np.ndarray:
            self.calls.append(len(texts))
            return real.model.embed(texts, batch_size)

    texts = ["Samsung, SK Hynix shares jump as HBM demand soars", "US tightens export controls"]
    first = Encoder("m", "torch", Counting("graph-1"), tmp_path)
    kept = first.encode_kept(texts)
    assert np.array_equal(kept, real.encode(texts)) and first.model.calls == [2]
    again = Encoder("m", "torch", Counting("graph-1"), tmp_path)  # another process, the same export
    assert np.array_equal(again.encode_kept(texts), kept) and again.model.calls == []
    again.encode_kept(texts[:1])
    again.encode_kept(texts, batch_size=1)
    assert again.model.calls == [1, 2]
    other = Encoder("m", "torch", Counting("graph-2"), tmp_path)  # a new export
    other.encode_kept(texts)
    assert other.model.calls == [2]
    for path in (tmp_path / "embeddings").glob("*.npy"):
        path.write_bytes(path.read_bytes()[:40])  # torn by a crash
    assert np.array_equal(again.encode_kept(texts), kept) and again.model.calls == [1, 2, 2]
    assert not list((tmp_path / "embeddings").glob("*partial*"))


def test_kept_embeddings_stay_within_their_budget_letting_the_least_recently_used_go(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every edited topics file and labels file keys new kept embeddings; past ``KEPT_BYTES`` the files used
    least recently go (reading one counts as a use), the one just written never does, and a partial file a
    crash left an hour ago goes too."""
    import os
    import time

    import numpy as np

    from models import encoder

    real = load_encoder("torch")
    kept = encoder.Encoder("m", "torch", real.model, tmp_path)
    folder = tmp_path / "embeddings"

    def written(text: str) -> Path:
        before = set(folder.glob("*.npy"))
        kept.encode_kept([text])
        (path,) = set(folder.glob("*.npy")) - before
        return path

    files = [written(text) for text in ("Samsung raises DRAM prices", "Micron builds a fab", "SK Hynix sells out")]
    monkeypatch.setattr(encoder, "KEPT_BYTES", sum(path.stat().st_size for path in files[1:]))  # two beside a new one
    for age, path in enumerate(files):  # the first written is the oldest
        os.utime(path, (time.time() - 300 + 100 * age,) * 2)
    torn = folder / "abc.123.partial.npy"
    np.save(torn, np.zeros((1, real.dimension), dtype=np.float32))
    os.utime(torn, (time.time() - 7200,) * 2)
    kept.encode_kept(["Samsung raises DRAM prices"])  # read: now the most recently used
    newest = written("Kioxia cuts NAND output")
    assert set(folder.glob("*.npy")) == {files[0], files[2], newest}  # the least recently used went, and the torn


SHOWN = (  # what a stream shows of the memory seed: stories its article alone puts well above ordinary news
    "Samsung and SK Hynix raise DRAM contract prices again as HBM sells out",
    "Memory chip prices soar as AI servers devour DRAM and NAND",
    "Micron forecasts record revenue on surging memory chip demand",
    "SK Hynix posts record profit as memory supercycle deepens",
)


@pytest.fixture(scope="module")
def memory_scorer() -> Scorer:
    """The memory seed as a new user has it: generated topics and the transfer model, which reads seed.stream."""
    encoder = load_encoder("torch")
    topic_set = build_topic_set("memory-chip-supercycle", MEMORY_ARTICLE.read_text(encoding="utf-8"), encoder)
    return Scorer([topic_set], encoder)


def test_a_story_near_what_the_stream_showed_of_a_seed_gains_and_no_story_counts_itself(
    memory_scorer: Scorer,
) -> None:
    from models.relevance import feature_names
    from models.stream import StreamPool

    scorer, seed = memory_scorer, memory_scorer.seeds[0]
    names = feature_names(scorer.topic_sets[0])
    close, stream = names.index("seed.closeness"), names.index("seed.stream")
    assert scorer.streams
    near = _story("Kioxia shares jump as NAND flash prices climb")
    quiet = [near, _story("Premier League: Arsenal beat Chelsea 2-0"), _story("Rain expected in Oslo this weekend")]
    for (alone,) in scorer.assess(quiet):  # nothing close enough to the article: the stream adds nothing
        assert alone.values[stream] == alone.values[close]
    shown = [_story(t) for t in SHOWN]
    assessed, titles = scorer.assess_with_titles(shown)
    pools = scorer.picks(shown, assessed, titles)
    assert pools[seed].ids == tuple(s.id for s in shown)
    before = scorer.assess([near])[0][0]
    after = scorer.assess_with_titles([near], stream=pools)[0][0][0]
    assert after.values[stream] > before.values[stream] + 0.2
    assert after.relevance > before.relevance and after.matched and not before.matched
    pool = pools[seed]
    copy = StreamPool(
        ("another-story", *pool.ids[1:]), pool.titles, pool.vectors, pool.closeness
    )  # the first, under a new id
    itself = scorer.assess_with_titles(shown[:1], stream=pools)[0][0][0].values[stream]
    as_copy = scorer.assess_with_titles(shown[:1], stream={seed: copy})[0][0][0].values[stream]
    assert as_copy > itself + 1.0  # a copy of a story counts for it (a repost); the story itself never does


def test_the_monitor_keeps_what_the_stream_showed_between_cycles(memory_scorer: Scorer, tmp_path: Path) -> None:
    """Through the pipeline's own steps: a cycle's picks are recorded with its verdicts, and a later cycle (a new
    process: only the store remembers) scores its stories with them."""
    from newsmon.config import Settings
    from newsmon.pipeline import judge, record_verdicts, stream_of
    from newsmon.store import SQLiteStore

    settings = Settings(data_dir=tmp_path)
    store = SQLiteStore(settings.state_db)
    near = [_story("Kioxia shares jump as NAND flash prices climb")]
    assert stream_of(store, memory_scorer) == {} and judge(memory_scorer, near).matches == []
    shown = [_story(t) for t in SHOWN]
    record_verdicts(store, shown, judge(memory_scorer, shown), settings, memory_scorer, "run-1")
    kept = stream_of(SQLiteStore(settings.state_db), memory_scorer)
    assert set(kept[memory_scorer.seeds[0]].ids) == {s.id for s in shown}
    assert [m.story.id for m in judge(memory_scorer, near, stream=kept).matches] == [near[0].id]


def test_a_pool_read_again_by_another_encoder_keeps_each_pick_once_and_skips_seeds_it_does_not_score(
    memory_scorer: Scorer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the fp32 confirmation does with int8's picks: each title embedded again, once per worker (the kept
    vectors start over past ``REREAD_KEPT``), its closeness measured again; another seed's pool passes as is."""
    import numpy as np

    from models import scoring
    from models.stream import StreamPool

    seed = memory_scorer.seeds[0]
    shown = [_story(t) for t in SHOWN]
    assessed, titles = memory_scorer.assess_with_titles(shown)
    pool = memory_scorer.picks(shown, assessed, titles)[seed]
    rough = StreamPool(pool.ids, pool.titles, np.roll(pool.vectors, 1, axis=0), np.zeros(len(pool)))
    other = StreamPool.empty(pool.vectors.shape[1])
    half = StreamPool(rough.ids[:2], rough.titles[:2], rough.vectors[:2], rough.closeness[:2])
    memory_scorer.reread({seed: half})  # two picks kept
    for kept in (1, 10_000):  # past the bound, the kept vectors are let go before the pool is read, never midway
        monkeypatch.setattr(scoring, "REREAD_KEPT", kept)
        again = memory_scorer.reread({seed: rough, "another-seed": other})
        assert again["another-seed"] is other and again[seed].ids == pool.ids
        assert np.allclose(again[seed].vectors, pool.vectors, atol=1e-5)
        assert np.allclose(again[seed].closeness, pool.closeness, atol=1e-4)


def test_a_pick_counts_by_its_closeness_to_the_topics_as_they_are_now(memory_scorer: Scorer) -> None:
    """The store keeps each pick's closeness from when it was picked; after an edit of the topics, what it
    counts for is measured again, so a stale reading neither silences a pick nor keeps one that no longer fits."""
    from models.relevance import feature_names
    from models.stream import StreamPool

    seed = memory_scorer.seeds[0]
    stream = feature_names(memory_scorer.topic_sets[0]).index("seed.stream")
    shown = [_story(t) for t in SHOWN]
    assessed, titles = memory_scorer.assess_with_titles(shown)
    pool = memory_scorer.picks(shown, assessed, titles)[seed]
    stale = StreamPool(pool.ids, pool.titles, pool.vectors, pool.closeness - 5.0)  # as if far from the article
    near = [_story("Kioxia shares jump as NAND flash prices climb")]
    read = memory_scorer.assess_with_titles(near, stream={seed: pool})[0][0][0].values[stream]
    assert memory_scorer.assess_with_titles(near, stream={seed: stale})[0][0][0].values[stream] == read


def test_a_labelled_core_story_counts_fully_for_the_stories_near_it_and_a_labelled_other_one_not_at_all(
    memory_scorer: Scorer,
) -> None:
    """The labels a seed's model keeps correct what the stream showed: a story an analyst labelled core counts
    as a pick of full weight, however far from the article its words are; one labelled other leaves the pool;
    a labelled story never counts for itself (by its title, in any case), while a repost of it does."""
    from models.relevance import feature_names

    seed, topic_set = memory_scorer.seeds[0], memory_scorer.topic_sets[0]
    names = feature_names(topic_set)
    close, stream = names.index("seed.closeness"), names.index("seed.stream")
    core = "Kioxia lifts NAND output as flash prices recover"
    near = _story("Kioxia shares jump as NAND flash prices climb")

    def labelled(*neighbours: tuple[str, int]) -> Scorer:
        model = replace(memory_scorer.models[seed], neighbours=neighbours)
        return Scorer([topic_set], memory_scorer.encoder, {seed: model}, background=memory_scorer.background)

    (alone,), (own,) = memory_scorer.assess([_story(core)])[0], labelled((core, 2)).assess([_story(core)])[0]
    assert alone.values[stream] == alone.values[close] < 1.75  # too far from the article to be picked
    before = memory_scorer.assess([near])[0][0]
    after = labelled((core, 2)).assess([near])[0][0]
    assert after.values[stream] > before.values[stream] + 0.5 and after.relevance > before.relevance
    repost = labelled((core + ".", 2)).assess([_story(core)])[0][0]
    assert repost.values[stream] > own.values[stream] + 1.0
    assert labelled((core.upper(), 2)).assess([_story(core)])[0][0].values[stream] == own.values[stream]
    shown = [_story(t) for t in SHOWN]
    assessed, titles = memory_scorer.assess_with_titles(shown)
    pools = memory_scorer.picks(shown, assessed, titles)
    assert memory_scorer.assess_with_titles([near], stream=pools)[0][0][0].values[stream] > before.values[stream]
    others = labelled(*((title, 0) for title in SHOWN)).assess_with_titles([near], stream=pools)[0][0][0]
    assert others.values[stream] == others.values[close]  # every pick labelled other: nothing left to count
