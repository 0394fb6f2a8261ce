use serde::{Deserialize, Serialize};

/// Rejection codes of the Liveness Plus contract. The numeric values and messages are part of
/// the wire format that existing clients match on, so they never change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "u16", try_from = "u16")]
pub enum RejectionCode {
    FaceTooClose = 700,
    FaceCloseToBorder = 701,
    FaceCropped = 702,
    FaceOccluded = 703,
    FaceNotFound = 704,
    TooManyFaces = 705,
    FaceTooSmall = 706,
    FaceAngleTooLarge = 707,
    ImageUnreadable = 708,
    ProcessingError = 709,
    FaceEdgesError = 710,
    EngineError = 711,
    UnknownError = 712,
    QualityUnacceptable = 713,
    ImageConditionsUnmet = 714,
    AttackDetected = 715,
}

impl RejectionCode {
    pub const ALL: [RejectionCode; 16] = [
        Self::FaceTooClose,
        Self::FaceCloseToBorder,
        Self::FaceCropped,
        Self::FaceOccluded,
        Self::FaceNotFound,
        Self::TooManyFaces,
        Self::FaceTooSmall,
        Self::FaceAngleTooLarge,
        Self::ImageUnreadable,
        Self::ProcessingError,
        Self::FaceEdgesError,
        Self::EngineError,
        Self::UnknownError,
        Self::QualityUnacceptable,
        Self::ImageConditionsUnmet,
        Self::AttackDetected,
    ];

    pub fn code(self) -> u16 {
        self as u16
    }

    /// The message string of the contract, verbatim (clients compare against it).
    pub fn message(self) -> &'static str {
        match self {
            Self::FaceTooClose => "Face too close.",
            Self::FaceCloseToBorder => "Face too close to the edges.",
            Self::FaceCropped => "Incomplete face.",
            Self::FaceOccluded => "Obstructed face.",
            Self::FaceNotFound => "Face not detected",
            Self::TooManyFaces => "Too many faces.",
            Self::FaceTooSmall => "Face very reduced in pixels",
            Self::FaceAngleTooLarge => "Incorrect face angle.",
            Self::ImageUnreadable => "Error reading image.",
            Self::ProcessingError => "Error processing image.",
            Self::FaceEdgesError => "Error when predicting face edges.",
            Self::EngineError => "Life Test Engine Internal Error",
            Self::UnknownError => "Unknown error.",
            Self::QualityUnacceptable => "Image quality for life test not acceptable.",
            Self::ImageConditionsUnmet => "Minimum image conditions for proof of life not met.",
            Self::AttackDetected => "Attack detected in the sent image.",
        }
    }
}

impl From<RejectionCode> for u16 {
    fn from(code: RejectionCode) -> u16 {
        code.code()
    }
}

impl TryFrom<u16> for RejectionCode {
    type Error = String;

    fn try_from(value: u16) -> Result<Self, Self::Error> {
        Self::ALL
            .into_iter()
            .find(|c| c.code() == value)
            .ok_or_else(|| format!("{value} is not a rejection code (700-715)"))
    }
}

impl std::fmt::Display for RejectionCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.code(), self.message())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_through_their_numbers() {
        for code in RejectionCode::ALL {
            assert_eq!(RejectionCode::try_from(code.code()), Ok(code));
            let json = serde_json::to_string(&code).unwrap();
            assert_eq!(json, code.code().to_string());
        }
        assert_eq!(RejectionCode::ALL.len(), 16);
        assert!(RejectionCode::try_from(716).is_err());
        assert!(RejectionCode::try_from(699).is_err());
    }
}
