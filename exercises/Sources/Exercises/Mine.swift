import GRPO

/// Your answers: one file per exercise (01-PolicyGradient.swift, 02-Advantages.swift, ...), each
/// a function of `Mine` whose body you write. Check one with `swift test --filter NAME` (the
/// file's name without its number), all with `swift test`. Use the project's `Scalar` for every
/// number that depends on logp (its operations carry their derivatives, so the tests can check
/// your gradient too): `+ - * /`, `Scalar.exp`, `Scalar.clamp`, `Scalar.minimum`, `Scalar.abs`.
public enum Mine {}
