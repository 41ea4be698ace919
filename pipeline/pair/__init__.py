"""The one-pair flow: stage runner, the steps of a pair, model choice, assessment, report and outputs."""
