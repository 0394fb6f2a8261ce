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

/// What kind of problem a rejection is, for an end user's screen: never which check or
/// threshold decided it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Problem {
    /// The face was not shown well enough: position, size, angle, light, obstruction.
    FaceQuality,
    /// The capture was not accepted as a live person in front of the camera.
    Attack,
    /// The service could not judge the capture; trying again later may work.
    Service,
}

impl RejectionCode {
    pub fn problem(self) -> Problem {
        match self {
            Self::AttackDetected => Problem::Attack,
            Self::ProcessingError
            | Self::FaceEdgesError
            | Self::EngineError
            | Self::UnknownError => Problem::Service,
            _ => Problem::FaceQuality,
        }
    }

    /// Words for the person in front of the camera: what to do differently, if anything.
    pub fn advice(self) -> &'static str {
        match self {
            Self::FaceTooClose => "Move a little further from the camera.",
            Self::FaceCloseToBorder | Self::FaceCropped => {
                "Keep your whole face inside the oval, away from the edges."
            }
            Self::FaceOccluded => "Make sure nothing covers your face.",
            Self::FaceNotFound => "We could not see a face. Face the camera and try again.",
            Self::TooManyFaces => "Only one person should be in front of the camera.",
            Self::FaceTooSmall => "Move closer to the camera.",
            Self::FaceAngleTooLarge => "Look straight at the camera and keep your head upright.",
            Self::ImageUnreadable | Self::QualityUnacceptable | Self::ImageConditionsUnmet => {
                "The picture was not clear enough. Find even light, hold still and try again."
            }
            Self::ProcessingError
            | Self::EngineError
            | Self::UnknownError
            | Self::FaceEdgesError => {
                "We could not check this capture. Please try again in a moment."
            }
            Self::AttackDetected => {
                "We could not confirm that a live person was in front of the camera. \
                 Please try again, facing the camera yourself."
            }
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
