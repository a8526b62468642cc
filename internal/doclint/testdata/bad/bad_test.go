package bad_test

// An example's comment is shown too: [NotHere] is broken.
func ExampleT() {}

// Other test functions' comments are not shown, so [Ignored] is not checked.
func helper() {}
