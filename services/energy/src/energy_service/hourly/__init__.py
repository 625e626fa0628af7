"""A community's hourly sums computed ahead of time, so that its aggregate over
a year costs one read of (substations x hours) rows instead of settling every
plant-hour again (issue 13, item 3). See ``hourly.service`` for the design."""
