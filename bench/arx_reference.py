"""Reference values for argen's ARX (AR with exogenous regressors) from statsmodels.

The series is tests/fixtures/arx/stocks_wide.csv, made from the embedded data/stocks.csv
(`symbol,date,price`, monthly closing prices Jan 2000 - Mar 2010, 123 months) by
`python3 bench/arx_reference.py --write-fixture`: one row per month, the columns
`date,IBM,MSFT,AAPL`, with IBM's price left empty in the last FUTURE rows (those rows
hold the future covariates that forecasts use). IBM is the target, MSFT and AAPL the
covariates.

Without arguments it reads that fixture and prints (repr of every float, for
tests/arx_statsmodels.rs):

- AutoReg(ibm, lags=ORDER, trend="c", exog=[MSFT, AAPL]).fit(): params (const, lags,
  exog), bse, sigma2, llf, aic, bic, nobs;
- ar_select_order(ibm, maxlag=MAXLAG, ic=..., trend="c", exog=...): the chosen order and
  the criterion of every order, for aic and bic;
- the dynamic forecasts of the FUTURE rows given their covariates: get_prediction(start=n,
  end=n+FUTURE-1, exog_oos=...), its predicted mean and its standard error.

Run with a Python that has statsmodels (see README: a venv outside the repository).
"""
import csv
import os
import sys

import numpy as np
import statsmodels
from statsmodels.tsa.ar_model import AutoReg, ar_select_order

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STOCKS = os.path.join(ROOT, "data", "stocks.csv")
FIXTURE = os.path.join(ROOT, "tests", "fixtures", "arx", "stocks_wide.csv")
TARGET, COVARIATES = "IBM", ["MSFT", "AAPL"]
FUTURE = 6
ORDER = 2
MAXLAG = 6


def write_fixture():
    prices = {}
    dates = []
    with open(STOCKS, newline="") as f:
        for row in csv.DictReader(f):
            if row["symbol"] == TARGET and row["date"] not in dates:
                dates.append(row["date"])
            prices[(row["symbol"], row["date"])] = row["price"]
    os.makedirs(os.path.dirname(FIXTURE), exist_ok=True)
    with open(FIXTURE, "w", newline="") as f:
        f.write(",".join(["date", TARGET] + COVARIATES) + "\n")
        for i, d in enumerate(dates):
            target = "" if i >= len(dates) - FUTURE else prices[(TARGET, d)]
            f.write(",".join([d, target] + [prices[(c, d)] for c in COVARIATES]) + "\n")
    print(f"wrote {FIXTURE}: {len(dates)} rows, the last {FUTURE} without {TARGET}")


def read_fixture():
    with open(FIXTURE, newline="") as f:
        rows = list(csv.DictReader(f))
    y = np.array([float(r[TARGET]) for r in rows if r[TARGET] != ""])
    z = np.array([[float(r[c]) for c in COVARIATES] for r in rows])
    return y, z


def show(name, values):
    values = np.atleast_1d(np.asarray(values, dtype=float))
    print(f"{name} = [" + ", ".join(repr(float(v)) for v in values) + "]")


def main():
    if "--write-fixture" in sys.argv:
        write_fixture()
        return
    y, z = read_fixture()
    n = len(y)
    print(f"statsmodels {statsmodels.__version__}, numpy {np.__version__}")
    print(f"n = {n}, future rows = {len(z) - n}")
    res = AutoReg(y, lags=ORDER, trend="c", exog=z[:n]).fit()
    print(f"# AutoReg(lags={ORDER}, trend='c', exog={COVARIATES}).fit()")
    show("params", res.params)
    show("bse", res.bse)
    show("sigma2", res.sigma2)
    show("llf", res.llf)
    show("aic", res.aic)
    show("bic", res.bic)
    print(f"nobs = {res.nobs}")
    pred = res.get_prediction(start=n, end=len(z) - 1, exog_oos=z[n:])
    show("forecast_mean", pred.predicted_mean)
    show("forecast_se", np.sqrt(pred.var_pred_mean))
    for ic in ["aic", "bic"]:
        sel = ar_select_order(y, maxlag=MAXLAG, ic=ic, trend="c", exog=z[:n])
        order = 0 if sel.ar_lags is None else len(sel.ar_lags)
        table = getattr(sel, ic)
        by_order = [table[0 if p == 0 else tuple(range(1, p + 1))] for p in range(MAXLAG + 1)]
        print(f"# ar_select_order(maxlag={MAXLAG}, ic='{ic}', trend='c', exog=...)")
        print(f"{ic}_order = {order}")
        show(f"{ic}_by_order", by_order)
        chosen = sel.model.fit()
        show(f"{ic}_chosen_params", chosen.params)
        pred = chosen.get_prediction(start=n, end=len(z) - 1, exog_oos=z[n:])
        show(f"{ic}_chosen_forecast_mean", pred.predicted_mean)
        show(f"{ic}_chosen_forecast_se", np.sqrt(pred.var_pred_mean))


if __name__ == "__main__":
    main()
