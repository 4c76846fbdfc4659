"""statsmodels side of the AR order-selection benchmark (bench/classic.sh): reads column `x`
of a CSV, then times ar_select_order(x, maxlag=40, ic="aic", trend="c") followed by
AutoReg(x, lags=chosen, trend="c").fit(). Prints one JSON line."""
import json
import sys
import time

import numpy as np
from statsmodels.tsa.ar_model import AutoReg, ar_select_order

x = np.loadtxt(sys.argv[1], delimiter=",", skiprows=1)
start = time.perf_counter()
sel = ar_select_order(x, maxlag=40, ic="aic", trend="c")
res = AutoReg(x, lags=sel.ar_lags, trend="c").fit()
seconds = time.perf_counter() - start
order = 0 if sel.ar_lags is None else len(sel.ar_lags)
print(json.dumps({"seconds": seconds, "order": order, "a1": float(res.params[1])}))
