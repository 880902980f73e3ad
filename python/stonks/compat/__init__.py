"""Other trackers' client APIs on top of stonks, so their users' scripts run unchanged.

import stonks.compat.wandb as wandb
"""
