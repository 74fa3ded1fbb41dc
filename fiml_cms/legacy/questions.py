"""The quiz: multiple-choice, true/false and numeric questions, however the legacy formats marked answers."""

from __future__ import annotations

from typing import Any

from .reading import Reading, is_empty, json_path, shown, unique_id
from .vocabulary import ITEM_ID, QUESTION_TYPES


def quiz(reading: Reading, value: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    questions: Any
    base: tuple[str, ...]
    if isinstance(value, list):
        questions, base = value, ("quiz",)
        reading.note("$.quiz: a bare list of questions -> quiz.questions")
    elif isinstance(value, dict):
        questions, base = value.get("questions"), ("quiz", "questions")
        if "pass_ratio" in value and value["pass_ratio"] is not None:
            ratio = value["pass_ratio"]
            if isinstance(ratio, (int, float)) and not isinstance(ratio, bool) and 0 < ratio <= 1:
                out["pass_ratio"] = ratio
            else:
                reading.problem("$.quiz.pass_ratio", f"{shown(ratio)} is not a share between 0 and 1")
        reading.leftover(value, ("questions", "pass_ratio"), "quiz")
    else:
        questions, base = None, ("quiz",)
    if not isinstance(questions, list) or not questions:
        reading.problem(
            json_path(*base), "the lesson has no quiz questions; the current format needs at least one"
        )
        out["questions"] = []
        return out
    taken: set[str] = set()
    legacy_ids = [q.get("id") if isinstance(q, dict) else None for q in questions]
    valid = [i for i in legacy_ids if isinstance(i, str) and ITEM_ID.match(i)]
    keep = {i for i in valid if valid.count(i) == 1}
    taken |= keep
    out["questions"] = []
    for n, question in enumerate(questions):
        where = (*base, n)
        if not isinstance(question, dict):
            reading.problem(json_path(*where), f"{shown(question)} is not a question")
            continue
        qid = question.get("id")
        if not (isinstance(qid, str) and qid in keep):
            new_id = unique_id(f"q{n + 1}", taken)
            taken.add(new_id)
            reading.note(
                f"{json_path(*where, 'id')}: {'missing' if qid is None else repr(qid) + ' is not a valid or unique id'} -> {new_id}"
            )
            qid = new_id
        mapped = _question(reading, question, where)
        if mapped is not None:
            out["questions"].append({"id": qid, **mapped})
    return out


def _question(reading: Reading, q: dict[str, Any], where: tuple[Any, ...]) -> dict[str, Any] | None:
    used = {"id", "type"}
    legacy_type = q.get("type")
    kind = QUESTION_TYPES.get(legacy_type.strip().lower()) if isinstance(legacy_type, str) else None
    if legacy_type is None:
        if "options" in q:
            kind = "multiple_choice"
        elif any(isinstance(q.get(k), bool) for k in ("correct_answer", "correct", "answer")):
            kind = "true_false"
        if kind:
            reading.note(f"{json_path(*where, 'type')}: missing -> {kind}")
    elif kind is None:
        reading.problem(
            json_path(*where, "type"), f"{shown(legacy_type)} is not multiple_choice, true_false or numeric"
        )
        return None
    elif kind != legacy_type:
        reading.note(f"{json_path(*where, 'type')}: {legacy_type!r} -> {kind}")
    if kind is None:
        reading.problem(json_path(*where, "type"), "is missing and cannot be told from the question")
        return None
    out: dict[str, Any] = {"type": kind}
    prompt_key = next((k for k in ("prompt", "text", "question") if not is_empty(q.get(k))), "prompt")
    used.add(prompt_key)
    out["prompt"] = reading.line(q.get(prompt_key), json_path(*where, prompt_key))
    if kind == "multiple_choice":
        used |= _choice(reading, q, where, out)
    elif kind == "true_false":
        used |= _true_false(reading, q, where, out)
    else:
        used |= _numeric(reading, q, where, out)
    if is_empty(q.get("explanation")):
        reading.problem(
            json_path(*where, "explanation"),
            "is missing; the current format shows an explanation after each answer: write one",
        )
        out["explanation"] = None
    else:
        out["explanation"] = reading.line(q["explanation"], json_path(*where, "explanation"))
    used.add("explanation")
    xp_keys = [k for k in ("xp", "xp_reward", "points") if q.get(k) is not None]
    values = {k: reading.integer(q[k], json_path(*where, k)) for k in xp_keys}
    if len(set(values.values())) > 1:
        reading.problem(json_path(*where, xp_keys[1]), f"the XP values {values} disagree")
    elif xp_keys and values[xp_keys[0]] is not None:
        out["xp"] = values[xp_keys[0]]
        if xp_keys[0] != "xp":
            reading.note(f"{json_path(*where, xp_keys[0])} -> xp")
    used |= set(xp_keys)
    reading.leftover(q, used, *where)
    order = ("type", "prompt", "options", "answer", "tolerance", "unit", "explanation", "xp")
    return {k: out[k] for k in order if k in out}


def _choice(reading: Reading, q: dict[str, Any], where: tuple[Any, ...], out: dict[str, Any]) -> set[str]:
    used = {"options"}
    options = q.get("options")
    if not isinstance(options, list) or not options:
        reading.problem(json_path(*where, "options"), "a multiple-choice question needs a list of options")
        return used
    texts, flagged, flag_keys = _options(reading, options, where)
    out["options"] = texts
    by_key: dict[str, int] = {}
    if flag_keys:
        if len(flagged) != 1:
            which = (
                "no option is" if not flagged else "options " + ", ".join(str(j) for j in flagged) + " are"
            )
            reading.problem(
                json_path(*where, "options"),
                f"{which} marked correct; the current format has exactly one correct option",
            )
        else:
            by_key["options"] = flagged[0]
    used |= _indexed_answers(reading, q, where, texts, by_key)
    found = set(by_key.values())
    if len(found) > 1:
        reading.problem(
            json_path(*where),
            f"the correct answer is given more than once and disagrees: {', '.join(f'{k} -> option {v}' for k, v in by_key.items())}",
        )
    elif found:
        out["answer"] = found.pop()
        reading.note(
            f"{json_path(*where)}: correct option ({', '.join(k if k != 'options' else next(iter(flag_keys)) for k in by_key)}) -> answer {out['answer']}"
        )
    elif not any(p.startswith(json_path(*where)) for p in reading.problems):
        reading.problem(
            json_path(*where), "no correct answer is given (is_correct / correct / correct_answer)"
        )
    return used


def _options(
    reading: Reading, options: list[Any], where: tuple[Any, ...]
) -> tuple[list[str | None], list[int], set[str]]:
    """The options' texts, the indexes of those flagged correct, and the flag keys used."""
    texts: list[str | None] = []
    flagged: list[int] = []
    flag_keys = set()
    for j, option in enumerate(options):
        owhere = (*where, "options", j)
        if isinstance(option, dict):
            text_key = next((k for k in ("text", "label", "option") if k in option), "text")
            texts.append(reading.line(option.get(text_key), json_path(*owhere, text_key)))
            flag = next((k for k in ("is_correct", "correct") if k in option), None)
            if flag is not None:
                flag_keys.add(flag)
                if not isinstance(option[flag], bool):
                    reading.problem(json_path(*owhere, flag), f"{shown(option[flag])} is not true or false")
                elif option[flag]:
                    flagged.append(j)
            reading.leftover(option, (text_key, flag) if flag else (text_key,), *owhere)
        elif isinstance(option, (str, int, float)) and not isinstance(option, bool):
            texts.append(reading.line(option, json_path(*owhere)))
        else:
            reading.problem(json_path(*owhere), f"{shown(option)} is not an option")
            texts.append(None)
    return texts, flagged, flag_keys


def _indexed_answers(
    reading: Reading,
    q: dict[str, Any],
    where: tuple[Any, ...],
    texts: list[str | None],
    by_key: dict[str, int],
) -> set[str]:
    """The correct option named by `correct` / `correct_answer` / `answer` (an index or the option's
    text), put in `by_key`; returns the keys the question has."""
    used: set[str] = set()
    for key in ("correct", "correct_answer", "answer"):
        if key not in q:
            continue
        used.add(key)
        value = q[key]
        if isinstance(value, int) and not isinstance(value, bool):
            if 0 <= value < len(texts):
                by_key[key] = value
            else:
                reading.problem(
                    json_path(*where, key),
                    f"index {value} is not one of the {len(texts)} options (indexes start at 0)",
                )
        elif isinstance(value, str) and value.strip() in [t for t in texts if t]:
            by_key[key] = list(texts).index(value.strip())
        else:
            reading.problem(
                json_path(*where, key), f"{shown(value)} is neither an option's index nor its text"
            )
    return used


def _true_false(reading: Reading, q: dict[str, Any], where: tuple[Any, ...], out: dict[str, Any]) -> set[str]:
    used: set[str] = set()
    answers: dict[str, bool] = {}
    for key in ("correct_answer", "correct", "answer"):
        if key not in q:
            continue
        used.add(key)
        value = q[key]
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            reading.note(f"{json_path(*where, key)}: text {value!r} -> {value.strip().lower()}")
            value = value.strip().lower() == "true"
        if isinstance(value, bool):
            answers[key] = value
        elif isinstance(value, int) and isinstance(q.get("options"), list) and 0 <= value < len(q["options"]):
            pass  # an index into ["True", "False"]: read below
        else:
            reading.problem(json_path(*where, key), f"{shown(value)} is not true or false")
    options = q.get("options")
    if options is not None:
        used.add("options")
        labels = (
            [str(o.get("text") if isinstance(o, dict) else o).strip().lower() for o in options]
            if isinstance(options, list)
            else []
        )
        index = next(
            (
                q[k]
                for k in ("correct", "correct_answer", "answer")
                if isinstance(q.get(k), int) and not isinstance(q.get(k), bool)
            ),
            None,
        )
        flags = (
            [
                j
                for j, o in enumerate(options)
                if isinstance(o, dict) and (o.get("is_correct") is True or o.get("correct") is True)
            ]
            if isinstance(options, list)
            else []
        )
        if sorted(labels) == ["false", "true"] and (index is not None or len(flags) == 1):
            answers["options"] = labels[index if index is not None else flags[0]] == "true"
            reading.note(f"{json_path(*where, 'options')}: true/false options -> answer")
        elif not answers:
            reading.problem(
                json_path(*where, "options"),
                "a true/false question whose options are not just True and False",
            )
    if len(set(answers.values())) > 1:
        reading.problem(json_path(*where), f"the answer is given more than once and disagrees: {answers}")
    elif answers:
        out["answer"] = next(iter(answers.values()))
        reading.note(f"{json_path(*where)}: {', '.join(answers)} -> answer {str(out['answer']).lower()}")
    elif not any(p.startswith(json_path(*where)) for p in reading.problems):
        reading.problem(json_path(*where), "no answer is given (correct_answer: true or false)")
    return used


def _numeric(reading: Reading, q: dict[str, Any], where: tuple[Any, ...], out: dict[str, Any]) -> set[str]:
    used: set[str] = set()
    key = next((k for k in ("answer", "correct_answer", "correct") if k in q), None)
    if key is None:
        reading.problem(json_path(*where), "no answer is given")
    else:
        used.add(key)
        value = q[key]
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            out["answer"] = value
        else:
            reading.problem(json_path(*where, key), f"{shown(value)} is not a number")
    for extra in ("tolerance", "unit"):
        if q.get(extra) is not None:
            out[extra] = q[extra]
            used.add(extra)
    return used
