"""How the engine reports what it refuses."""

from orbit.engine.errors import Code, EngineError, Problem


def test_an_error_carries_one_problem() -> None:
    error = EngineError(Code.OUT_OF_RANGE, "too late", ("effectiveDate",))

    assert error.code is Code.OUT_OF_RANGE
    assert error.problems == [Problem(Code.OUT_OF_RANGE, "too late", ("effectiveDate",))]
    assert str(error) == "too late"


def test_an_error_may_carry_several_problems_the_first_giving_its_code() -> None:
    problems = [
        Problem(Code.INVALID, "quantity cannot be negative", ("changes", "0", "quantity")),
        Problem(Code.NOT_FOUND, "no such line", ("changes", "1", "contractLineId")),
    ]

    error = EngineError(problems)

    assert error.code is Code.INVALID
    assert str(error) == "quantity cannot be negative; no such line"
    assert repr(error) == f"EngineError({problems!r})"
