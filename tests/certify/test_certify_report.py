"""Honest brackets (issue 13, finding 2), lower-bound providers, the per-sample dual, the CLI and the benchmark."""

import json
import os

import numpy as np
import pytest
from conftest import HAVE_SCIP
from tolerances import RATIO

from fenchel_cvx.certify import (
    LowerBound,
    UpperBound,
    certify,
    dual_ascent,
    lbfgs_provider,
    lbfgs_train,
    tiny_problem,
    tiny_regression,
)
from fenchel_cvx.certify.report import (
    OVERLAP_RTOL,
    SweepPoint,
    convex_primal_provider,
    scip_standard_provider,
    sweep_envelope,
)

needs_scip = pytest.mark.scip  # skipped without PySCIPOpt (tests/conftest.py)
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def issue_instance():
    """The instance of issue 13 (`certify -d 1 --hidden 2 -m 5 --seed 3`), where the convex reformulation's primal
    value sat above the L-BFGS upper bound."""
    if not HAVE_SCIP:
        pytest.skip("pyscipopt not installed")
    net, X0, y = tiny_regression(d=1, hidden=2, m=5, seed=3)
    rep = certify(net, X0, y, lams=(1.0,), upper_providers=[lbfgs_provider(3, seed=3)], time_limit=20, seed=3,
                  lower_providers=[scip_standard_provider(20, seed=3), convex_primal_provider()])
    return net, X0, y, rep


@needs_scip
def test_the_default_convex_bound_is_the_certified_dual_one():
    """By default the two-layer convex side contributes its certified dual bound (not its primal value): below
    every upper bound with no tolerance, and it says it rests on no solver tolerance."""
    net, X0, y = tiny_regression(d=1, hidden=2, m=5, seed=3)
    rep = certify(net, X0, y, lams=(), upper_providers=[lbfgs_provider(3, seed=3)], time_limit=20, seed=3)
    c = rep.convex_certificate
    assert c is not None and rep.convex is None and not rep.info
    (bd,) = [b for b in rep.certified_lower if "convex" in b.provenance]
    assert bd.value == c.lower and "no solver tolerance" in bd.rests_on
    assert all(bd.value <= u.value for u in rep.upper)
    assert rep.rel_gap >= 0 and rep.consistent()


@needs_scip
def test_primal_values_are_never_certified_bounds(issue_instance):
    net, X0, y, rep = issue_instance
    assert rep.convex is not None
    assert [b.provenance for b in rep.info] == ["convex reformulation, primal value (CLARABEL)"]
    assert not any("convex" in b.provenance for b in rep.certified_lower)
    assert "NOT a certified bound" in rep.info[0].rests_on
    # every certified lower bound says what it rests on, and lies below every upper bound as printed
    for b in rep.certified_lower:
        assert "feastol" in b.rests_on, b
        assert b.value <= rep.best_upper.value, (b, rep.best_upper)
    assert rep.rel_gap >= 0 and rep.consistent() and rep.bracket_.note == ""
    table = rep.table()
    assert "(not a bound)" in table or "info" in table
    assert "valid up to SCIP's feasibility tolerance" in table


def _fake_provider(value, certified=True):
    def provide(net, X0, y, incumbent):
        return [LowerBound(value(incumbent.value), "test bound", "a test", certified=certified)]

    provide.__name__ = "test provider"
    return provide


def test_overshooting_lower_bound_is_shown_not_hidden():
    """A lower bound above the best upper bound: gap 0, both numbers in the note; within OVERLAP_RTOL it is a
    tolerance effect (consistent), beyond it the report is flagged inconsistent. (No SCIP needed.)"""
    net, X0, y = tiny_regression(d=1, hidden=1, m=4, seed=0)
    ups = [lbfgs_provider(1)]
    for factor, ok in ((1 + 0.1 * OVERLAP_RTOL, True), (1 + 100 * OVERLAP_RTOL, False)):
        rep = certify(net, X0, y, lams=(), upper_providers=ups,
                      lower_providers=[_fake_provider(lambda u, f=factor: f * u)])
        br = rep.bracket_
        assert br.gap == 0.0 and rep.rel_gap == 0.0
        assert br.overlap == pytest.approx((factor - 1) * br.upper.value, rel=RATIO["overshoot_cancellation"])
        assert rep.consistent() is ok and br.consistent is ok
        assert f"{br.lower.value:.10g}" in br.note and f"{br.upper.value:.10g}" in br.note
        assert ("the gap is reported as 0" in br.note) is ok
        assert br.note in rep.notes and br.note in rep.bracket()
    # an uncertified number never enters the bracket, however large
    rep = certify(net, X0, y, lams=(), upper_providers=ups,
                  lower_providers=[_fake_provider(lambda u: 2 * u, certified=False)])
    assert rep.certified_lower == [] and rep.info and rep.best_lower.value == 0.0 and rep.consistent()


def test_lower_bound_providers_plug_in():
    """A certified provider (the shape a convex dual bound will take) becomes the best lower bound when it is the
    largest; a provider's UpperBound items are re-judged by the network."""
    net, X0, y = tiny_regression(d=1, hidden=1, m=4, seed=1)
    W, b, J, _ = lbfgs_train(net, X0, y, seed=0)

    def convex_dual(net_, X0_, y_, incumbent):
        return [LowerBound(0.5 * incumbent.value, "convex dual (test)", "dual-feasible point checked in float64"),
                UpperBound(-1.0, "recovered network (test)", W, b)]

    rep = certify(net, X0, y, lams=(), upper_providers=[lbfgs_provider(1)], lower_providers=[convex_dual])
    assert rep.best_lower.provenance == "convex dual (test)"
    rec = [u for u in rep.upper if u.provenance == "recovered network (test)"][0]
    assert rec.value == pytest.approx(J, rel=RATIO["rounding"])  # re-judged, not the provider's -1
    assert 0 < rep.rel_gap <= 0.5 + RATIO["rounding"]
    with pytest.raises(TypeError, match="lower bounds"):
        certify(net, X0, y, lams=(), upper_providers=[lbfgs_provider(1)],
                lower_providers=[lambda *a: [rep.upper[0]]])


def test_table_says_what_every_bound_rests_on_and_prints_the_convex_notes():
    """Every row of the table carries a key to what its bound rests on, and every key is explained below it; the
    convex certificate's notes (here: the convex optimum needs more units than the width, so its network is no
    upper bound for this width; a width-n network from the pruned solution is) reach the report, the table and
    the JSON. No SCIP: the convex certificate alone."""
    net, X0, y = tiny_regression(d=2, hidden=1, m=5, rho=0.1, seed=2)  # the convex solution needs 2 units
    rep = certify(net, X0, y, lams=(), standard=False, upper_providers=[lbfgs_provider(2)])
    c = rep.convex_certificate
    assert c is not None and c.width_upper is not None and not c.exact and c.n_active <= 1 and c.notes
    assert [b.provenance for b in rep.lower] == ["two-layer convex reformulation, dual bound"]
    # the wider recovered network is not listed; the width-1 network of the width search is
    assert all(u.provenance.startswith(("backprop", "width-n network")) for u in rep.upper)
    table = rep.table()
    head, _, rest = table.partition("what each bound rests on:")
    legend = rest.split("\n\n")[0]
    for bd in rep.lower + rep.upper:
        (row,) = [line for line in head.splitlines() if line.startswith(bd.side) and bd.provenance in line]
        key = row.split()[-1]
        assert key.startswith("[") and f"{key} {bd.rests_on}" in legend, (row, legend)
    assert "> n = 1 units" in table and "cost of the width" in table
    data = rep.to_dict()
    assert data["convex_certificate"]["exact"] is False and data["notes"] == rep.notes
    assert any("two-layer convex certificate" in n for n in rep.notes)


@needs_scip
def test_a_recovered_network_narrower_than_the_width_is_a_valid_incumbent():
    """The convex solution of this instance needs r = 1 < n = 2 units: the recovered network, padded with a zero
    unit, is the best upper bound and the incumbent of the SCIP solves that follow (it used to reach them with
    its 1-unit weights and fail with 'W[0]: expected shape 2 x 1')."""
    net, X0, y = tiny_problem("1-2-1", m=6, seed=1)
    rep = certify(net, X0, y, lams=(1.0,), standard=False, upper_providers=[lbfgs_provider(1)], time_limit=5)
    c = rep.convex_certificate
    assert c.n_active < c.width and rep.best_upper.provenance == "network recovered from the convex reformulation"
    W, b = c.params_at_width()
    assert [w.shape for w in W] == [w.shape for w in net.W] and net.objective(X0, y, W, b) == c.upper
    assert rep.sweep and rep.sweep[0].lower <= rep.best_upper.value and rep.consistent()
    with pytest.raises(ValueError, match="upper_providers: 'narrow' returned weights of shapes"):
        certify(net, X0, y, lams=(), standard=False, convex=False,
                upper_providers=[lambda *a: [UpperBound(1.0, "narrow", c.W, c.b)]])


def test_the_convex_certificate_alone_needs_neither_scip_nor_the_global_size_limits(monkeypatch):
    """Without SCIP solves in the run, a problem beyond GLOBAL_LIMITS (here m = 60 > 30 samples) is bracketed by the
    convex certificate; with SCIP solves it is refused as too large, naming --allow-large."""
    import sys

    from fenchel_cvx.certify import ScopeError

    net, X0, y = tiny_regression(d=1, hidden=8, m=60, rho=0.05, seed=0)
    monkeypatch.setitem(sys.modules, "pyscipopt", None)  # SCIP is not needed
    rep = certify(net, X0, y, lams=(), standard=False, upper_providers=[lbfgs_provider(1)])
    assert rep.convex_certificate.converged and rep.best_lower.value <= rep.best_upper.value
    assert rep.convex_certificate.exact and rep.rel_gap <= rep.convex_certificate.gap  # the recovered net is listed
    with pytest.raises(ScopeError, match="too large.*allow_large"):
        certify(net, X0, y, lams=(1.0,), standard=False, upper_providers=[lbfgs_provider(1)])


def test_beyond_the_global_sizes_the_defaults_skip_scip_and_say_so(monkeypatch, tmp_path, capsys):
    """Issue 21's first scenario: ``certify`` at its defaults on data beyond GLOBAL_LIMITS (m = 60 > 30 samples)
    skips SCIP's solve of min J and the λ sweep with a note, and the convex certificate brackets min J (SCIP need
    not be installed); SCIP asked for explicitly is still refused as too large, and so is a network the convex
    certificate does not cover. The CLI does the same with ``--data FILE.npz``."""
    import sys

    from fenchel_cvx import FenchelNetwork
    from fenchel_cvx.certify import ScopeError

    net, X0, y = tiny_regression(d=1, hidden=8, m=60, rho=0.05, seed=0)
    monkeypatch.setitem(sys.modules, "pyscipopt", None)
    rep = certify(net, X0, y, upper_providers=[lbfgs_provider(1)])
    assert not rep.sweep and rep.standard is None and rep.convex_certificate is not None
    assert any("SCIP's solve of min J and the λ sweep are skipped" in n and "'samples': 60" in n for n in rep.notes)
    assert rep.best_lower.value <= rep.best_upper.value and rep.rel_gap <= rep.convex_certificate.gap
    rep = certify(net, X0, y, lams=(), upper_providers=[lbfgs_provider(1)])  # no sweep asked: the same
    assert not rep.sweep and rep.standard is None and any("are skipped" in n for n in rep.notes)
    for explicit in ({"standard": True}, {"lams": (1.0,)}, {"dual": {"lam": 1.0}}):
        with pytest.raises(ScopeError, match="too large.*allow_large"):
            certify(net, X0, y, upper_providers=[lbfgs_provider(1)], **explicit)
    deep = FenchelNetwork([1, 8, 8, 1], "relu", "squared", rho=0.05, seed=0)
    with pytest.raises(ScopeError, match="too large.*allow_large"):
        certify(deep, X0, y, upper_providers=[lbfgs_provider(1)])
    path = tmp_path / "data.npz"
    np.savez(path, X0=X0, y=y)
    rc, out, _ = _cli(["certify", "--data", str(path), "--hidden", "8", "--rho", "0.05", "--starts", "1",
                       "--bcd-starts", "0", "--quiet"], capsys)
    assert rc == 0 and "λ sweep are skipped" in out and "two-layer convex certificate: lower bound" in out


def test_certify_names_net_for_networks_it_does_not_model():
    """A convolutional network (even one made of dense layers) is refused by name, by certify and by every public
    entry point of the certificates, never with an error about W[0]'s shape from deep inside."""
    from fenchel_cvx import ConvFenchelNetwork
    from fenchel_cvx.certify import ScopeError, check_problem, convex_certificate

    net, X0, y = tiny_regression(d=1, hidden=2, m=5)
    conv = ConvFenchelNetwork("input1x1x1,flatten,dense2,dense1", loss="squared", rho=0.1)
    entries = {"certify": lambda: certify(conv, X0, y, lams=(), standard=False, upper_providers=[lbfgs_provider(1)]),
               "check_problem": lambda: check_problem(conv, X0, y), "lbfgs_train": lambda: lbfgs_train(conv, X0, y),
               "lbfgs_provider": lambda: lbfgs_provider(1)(conv, X0, y),
               "convex_certificate": lambda: convex_certificate(conv, X0, y)}
    for name, call in entries.items():
        with pytest.raises(ScopeError, match=r"^net: .*ConvFenchelNetwork.*convolutional") as info:
            call()
        assert "W[0]" not in str(info.value), name
    with pytest.raises(TypeError, match="^net: expected a FenchelNetwork"):
        certify({"sizes": [1, 2, 1]}, X0, y, lams=())
    with pytest.raises(ValueError, match="^upper_providers: the providers returned no upper bound"):
        certify(net, X0, y, lams=(), standard=False, convex=False, upper_providers=[lambda *a: []])


def test_plot_takes_an_axis_and_returns_the_figure(tmp_path):
    import matplotlib
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    net, X0, y = tiny_regression(d=1, hidden=1, m=4, seed=2)
    rep = certify(net, X0, y, lams=(), upper_providers=[lbfgs_provider(1)],
                  lower_providers=[_fake_provider(lambda u: 0.9 * u)])
    fig = Figure()
    ax = fig.subplots()
    assert rep.plot(ax=ax) is fig and len(ax.lines) >= 2  # the bracket's two lines
    backend, n_figs = matplotlib.get_backend(), len(plt.get_fignums())
    path = tmp_path / "b.png"
    assert isinstance(rep.plot(path), Figure) and path.read_bytes()[:4] == b"\x89PNG"
    assert matplotlib.get_backend() == backend and len(plt.get_fignums()) == n_figs  # no pyplot state touched
    with pytest.raises(TypeError, match="ax"):
        rep.plot(ax=3)


def test_sweep_envelope_carries_each_bound_to_larger_lambda():
    """min F_λ never decreases in λ (issue 21 item 6): the lower bound at λ is the running maximum of the solves'
    bounds at λ' ≤ λ, the upper bound the running minimum at λ' ≥ λ, capped by min J's upper bound. The input
    is demo 06's sweep as reported: a solve stopped at its limit at λ = 0.3 gave 0.2070 below 0.2216 at 0.1."""
    sweep = [SweepPoint(0.3, 0.2070, 0.30, "timelimit", 1.0), SweepPoint(0.1, 0.2216, 0.25, "optimal", 1.0),
             SweepPoint(1.0, 0.2500, 0.40, "optimal", 1.0), SweepPoint(3.0, 0.2400, 0.27, "timelimit", 1.0)]
    env = sweep_envelope(sweep, J_upper=0.28)
    assert list(env.lam) == [0.1, 0.3, 1.0, 3.0]
    assert list(env.raw_lower) == [0.2216, 0.2070, 0.2500, 0.2400]
    assert list(env.lower) == [0.2216, 0.2216, 0.2500, 0.2500]
    assert list(env.lower_from) == [0.1, 0.1, 1.0, 1.0]
    assert list(env.upper) == [0.25, 0.27, 0.27, 0.27]
    assert np.all(np.diff(env.lower) >= 0) and np.all(np.diff(env.upper) >= 0)
    empty = sweep_envelope([])
    assert empty.lam.shape == (0,) and empty.lower.shape == (0,)
    with pytest.raises(ValueError, match="sweep"):
        sweep_envelope([SweepPoint(-1.0, 0.1, 0.2, "optimal", 0.0)])
    # the report's table and plot show the envelope
    net, X0, y = tiny_regression(d=1, hidden=1, m=4, seed=2)
    rep = certify(net, X0, y, lams=(), upper_providers=[lbfgs_provider(1)],
                  lower_providers=[_fake_provider(lambda u: 0.5 * u)])
    rep.sweep = sweep
    table = rep.table()
    assert "(≥: the bound at λ=0.1)" in table and "never decreases" in table
    assert rep.to_dict()["sweep_envelope"][1]["lower"] == 0.2216


@needs_scip
def test_per_sample_dual_certifies_and_never_loses():
    net, X0, y = tiny_problem("1-2-1", m=4, seed=1)
    res = dual_ascent(net, X0, y, lam=1.0, iters=1, time_limit=1.5)
    assert res.kind == "sample" and len(res.iterates) == 2
    assert res.best_lower >= res.scalar_lower
    Js = [lbfgs_train(net, X0, y, seed=s)[2] for s in range(3)]
    for it in res.iterates:
        assert np.allclose([a.mean() for a in it["mu"]], 1.0)  # the budget is kept
        assert np.all(np.concatenate([a.ravel() for a in it["mu"]]) >= 0.05 - RATIO["rounding"])
        assert it["lower"] <= min(Js) and it["lower"] <= it["upper"], it
    assert "feastol" in res.rests_on and "per sample" in res.summary()
    with pytest.raises(ValueError, match="kind"):
        dual_ascent(net, X0, y, kind="layer")


def _cli(args, capsys):
    from fenchel_cvx.cli import main

    rc = main(args)
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


def test_cli_writes_a_plot_only_when_asked(tmp_path, capsys, monkeypatch):
    """``certify`` saves no file unless --plot FILE is given (issue 21 item 6); --plot beside --no-plot is refused."""
    monkeypatch.chdir(tmp_path)
    base = ["certify", "--arch", "1-2-1", "-m", "4", "--no-standard", "--lams", "--starts", "1", "--bcd-starts", "0",
            "--quiet"]
    rc, out, _ = _cli(base, capsys)
    assert rc == 0 and "bracket" in out and "plot saved" not in out
    assert list(tmp_path.iterdir()) == []
    rc, out, _ = _cli(base + ["--plot", "b.png"], capsys)
    assert rc == 0 and (tmp_path / "b.png").read_bytes()[:4] == b"\x89PNG"
    rc, _, err = _cli(base + ["--plot", "c.png", "--no-plot"], capsys)
    assert rc == 2 and "--no-plot" in err and not (tmp_path / "c.png").exists()


@needs_scip
def test_cli_classifier_with_dual(tmp_path, capsys):
    js, png = tmp_path / "c.json", tmp_path / "c.png"
    rc, out, _ = _cli(["certify", "--arch", "2-2-2", "--loss", "logistic", "--dataset", "xor", "-m", "4", "--lams", "1",
                       "--dual", "1", "--dual-iters", "1", "--time-limit", "1", "--starts", "2", "--bcd-starts", "0",
                       "--json", str(js), "--plot", str(png), "--quiet"], capsys)
    assert rc == 0, out
    assert "valid up to SCIP's feasibility tolerance" in out and "Lagrangian dual" in out
    data = json.loads(js.read_text())
    assert data["bracket"]["rel_gap"] >= 0 and data["bracket"]["lower"] <= data["bracket"]["upper"]
    assert all(b["rests_on"] for b in data["bounds"])
    assert data["dual"]["best_lower"] >= data["dual"]["scalar_lower"]
    assert png.stat().st_size > 1000


@pytest.mark.parametrize("args,match", [
    (["--arch", "lenet5"], "convolutional"),
    (["--arch", "2-2-1", "--activation", "sigmoid"], "sigmoid.*no finite box"),
    (["--arch", "2-2-1", "--loss", "hinge"], "--loss"),
    (["--arch", "2-2-2", "--loss", "logistic", "--activation", "tanh"], "tanh"),
    (["--arch", "2-4-4-1", "-m", "20"], "too large.*allow-large"),
    (["--arch", "2-2-2-2-1"], "one or two hidden layers"),
    (["--arch", "2-2-1", "--rho", "0"], "rho"),
])
def test_cli_refuses_out_of_scope_clearly(args, match, capsys):
    rc, _, err = _cli(["certify", *args, "--quiet", "--no-plot"], capsys)
    assert rc == 2
    assert "error" in err and pytest.importorskip("re").search(match, err), err


@needs_scip
def test_benchmark_quick_mode(tmp_path, load_script):
    mod = load_script("benchmarks/certify.py")
    rows = mod.main(["--quick", "--out", str(tmp_path / "c")])
    assert len(rows) >= 2
    for r in rows:
        assert r["lower"] <= r["upper"] and r["rel_gap"] >= 0, r
        assert r["lower_from"] and r["upper_from"] and r["rests_on"]
    md = (tmp_path / "c.md").read_text()
    assert md.startswith("| instance |") and all(r["rests_on"] in md for r in rows)  # what each lower bound rests on


def test_readme_certify_table_is_built_from_the_stored_results(load_script):
    """The README's table of certified brackets is what benchmarks/certify_table.py builds from the stored results
    (one row per stored instance, each naming the run that produced it), and every row is a proper bracket."""
    mod = load_script("benchmarks/certify_table.py")
    rows = mod.rows()
    assert {r["run"] for r in rows} == set(mod.RUNS) and len(rows) >= 18
    for r in rows:
        assert r["lower"] <= r["upper"] and r["rel_gap"] >= 0 and r["lower_from"] and r["upper_from"], r
    readme = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    assert mod.markdown(rows) in readme, "README table out of date: python benchmarks/certify_table.py"


@pytest.mark.parametrize("kind,label,rests", [("exact", "dual bound", "no solver tolerance"),
                                              ("sdp", "dual bound (SDP oracle bound)", "no solver tolerance"),
                                              ("scip", "dual bound (SCIP oracle)", "SCIP's LP and feasibility")])
def test_the_convex_dual_bound_says_which_oracle_bound_it_rests_on(monkeypatch, kind, label, rests):
    """The provider labels the bound by the oracle bound the certificate used (``DualCertificate.oracle_kind``): the
    SDP's is rigorous (no solver tolerance), SCIP's rests on SCIP's tolerances."""
    from types import SimpleNamespace

    import fenchel_cvx.certify.twolayer as tl
    from fenchel_cvx.certify.lower import convex_dual_provider

    cert = SimpleNamespace(lower=0.5, status="converged", time=1.0, dual=SimpleNamespace(oracle_kind=kind),
                           n_active=3, width=2, network=None)
    monkeypatch.setattr(tl, "convex_certificate", lambda *a, **k: cert)
    low = convex_dual_provider()(None, None, None, None)[0]
    assert low.provenance == "two-layer convex reformulation, " + label and rests in low.rests_on
    assert ("SCIP" in low.rests_on) == (kind == "scip")
