# How lifetimes_reference.csv was made, with lifetimes 0.11.3 (pip install lifetimes==0.11.3):
#   python3 lifetimes_reference.py > lifetimes_reference.csv
# The test reads the CSV only, so it needs neither Python nor the network.
import os
import pandas as pd
from lifetimes import BetaGeoFitter, GammaGammaFitter
df = pd.read_csv(os.path.join(os.path.dirname(os.path.abspath(__file__)), 'cdnow_customers_summary_with_transactions.csv'))
bg = BetaGeoFitter(penalizer_coef=0.0)
bg.fit(df['x'], df['t_x'], df['T'])
rep = df[df['x'] > 0]
gg = GammaGammaFitter(penalizer_coef=0.0)
gg.fit(rep['x'], rep['zbar'])
print('ID,x,t_x,T,zbar,p_alive,expected_39,expected_spend')

ids = [1, 2, 18, 100, 1000, 2357]
for i in ids:
    row = df[df['ID'] == i] if 'ID' in df.columns else df.iloc[[i-1]]
    f, r, T = float(row['x'].iloc[0]), float(row['t_x'].iloc[0]), float(row['T'].iloc[0])
    pa = bg.conditional_probability_alive(f, r, T)
    e = bg.conditional_expected_number_of_purchases_up_to_time(39, f, r, T)
    m = float(row['zbar'].iloc[0])
    es = float(gg.conditional_expected_average_profit(pd.Series([f]), pd.Series([m])).iloc[0]) if f > 0 else float('nan')
    scalar = lambda v: float(v.item() if hasattr(v, 'item') else v)
    print(','.join(str(v) for v in [i, f, r, T, m, repr(scalar(pa)), repr(scalar(e)), repr(es) if f > 0 else '']))
