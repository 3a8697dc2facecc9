// ============================================================================================
// TRAINING SECTION: the place for the tiny-policy training figures (issue 3, TinyPolicy).
//
// This benchmark does not depend on TinyPolicy yet. To add the figures, fill in
// `trainingSection` below (import TinyPolicy at the top of this file, time a few training steps,
// and return a `BenchSection`). Everything else is wired already:
//   - `--only training` selects only this section; it is on by default with the others;
//   - the returned `json` lands under the key "training" of `--json` output;
//   - the returned `table` lines are printed under a "Training (tiny policy)" heading.
// Returning nil (as now) leaves "training" out of the JSON and prints nothing.
// ============================================================================================

/// One report section: lines for the table and a value for the JSON object.
struct BenchSection {
    var table: [String]
    var json: JSON
}

/// The tiny-policy training figures; nil until TinyPolicy's training loop exists.
func trainingSection(_ options: Options) -> BenchSection? {
    nil
}
