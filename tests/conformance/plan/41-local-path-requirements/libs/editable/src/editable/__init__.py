NAME = "editable"
