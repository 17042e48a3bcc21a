"""The name perseus is installed by."""

# On PyPI (`pip install perseus-web`); `perseus` there is an unrelated project. The import
# name and the command stay `perseus`.
DISTRIBUTION = "perseus-web"
