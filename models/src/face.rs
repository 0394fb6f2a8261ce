use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Point {
    pub x: f32,
    pub y: f32,
}

/// Axis-aligned box in original-image pixels. It may reach outside the image when the face is
/// cut by the frame: the detector predicts the whole face.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BoundingBox {
    pub x: f32,
    pub y: f32,
    pub width: f32,
    pub height: f32,
}

impl BoundingBox {
    pub fn right(&self) -> f32 {
        self.x + self.width
    }

    pub fn bottom(&self) -> f32 {
        self.y + self.height
    }

    pub fn area(&self) -> f32 {
        self.width * self.height
    }

    pub fn iou(&self, other: &BoundingBox) -> f32 {
        let w = (self.right().min(other.right()) - self.x.max(other.x)).max(0.0);
        let h = (self.bottom().min(other.bottom()) - self.y.max(other.y)).max(0.0);
        let inter = w * h;
        let union = self.area() + other.area() - inter;
        if union > 0.0 {
            inter / union
        } else {
            0.0
        }
    }
}

/// The five YuNet landmarks, named from the subject's point of view: the subject's right eye
/// is on the image's left in a selfie.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Landmarks {
    pub right_eye: Point,
    pub left_eye: Point,
    pub nose: Point,
    pub right_mouth: Point,
    pub left_mouth: Point,
}

impl Landmarks {
    pub fn all(&self) -> [Point; 5] {
        [
            self.right_eye,
            self.left_eye,
            self.nose,
            self.right_mouth,
            self.left_mouth,
        ]
    }

    pub fn interocular_distance(&self) -> f32 {
        (self.left_eye.x - self.right_eye.x).hypot(self.left_eye.y - self.right_eye.y)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Face {
    pub score: f32,
    #[serde(rename = "box")]
    pub bbox: BoundingBox,
    pub landmarks: Landmarks,
}
