"""Shared neural parsers: the Mask R-CNN image/frame parser and the Transformer question parser.

NSCL uses both; NS-DR uses the frame parser per video frame and the question parser per question.
"""
from .mask_rcnn import MaskRCNNParser, make_image_parser
from .question import QuestionParser, make_question_parser

__all__ = ["MaskRCNNParser", "make_image_parser", "QuestionParser", "make_question_parser"]
