NAME = "mylib"
