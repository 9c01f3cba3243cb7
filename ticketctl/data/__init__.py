"""The data of the three databases as the team works with it: sample data (``seed``) and the
projection of an event row into its search document, which every path into the index shares.
"""
